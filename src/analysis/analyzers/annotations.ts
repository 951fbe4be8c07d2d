// Istio-prefixed annotations on Kubernetes objects: unknown ones, ones on a kind they do not apply to, deprecated
// ones, and values the injector would reject.
import { parse } from "yaml";
import type { Analyzer } from "../context.js";

/** Istio's annotations (istio.io/api annotation/annotations.yaml): name, the kinds it applies to, deprecated. */
const ANNOTATIONS: [string, string, true?][] = [
  ["alpha.istio.io/canonical-serviceaccounts", "Service", true],
  ["alpha.istio.io/kubernetes-serviceaccounts", "Service", true],
  ["ambient.istio.io/bypass-inbound-capture", "Pod"],
  ["ambient.istio.io/dns-capture", "Pod"],
  ["ambient.istio.io/redirection", "Pod"],
  ["ambient.istio.io/waypoint-inbound-binding", "GatewayClass,Gateway"],
  ["galley.istio.io/analyze-suppress", "Any"],
  ["gateway.istio.io/controller-version", "Any"],
  ["gateway.istio.io/name-override", "Gateway"],
  ["gateway.istio.io/service-account", "Gateway"],
  ["inject.istio.io/templates", "Pod"],
  ["istio.io/autoRegistrationGroup", "WorkloadEntry"],
  ["istio.io/connectedAt", "WorkloadEntry"],
  ["istio.io/disconnectedAt", "WorkloadEntry"],
  ["istio.io/dry-run", "AuthorizationPolicy"],
  ["istio.io/reroute-virtual-interfaces", "Pod"],
  ["istio.io/rev", "Pod"],
  ["istio.io/use-waypoint-canary-weight", "Service,ServiceEntry,Namespace"],
  ["istio.io/workloadController", "WorkloadEntry"],
  ["kubernetes.io/ingress.class", "Ingress"],
  ["networking.istio.io/exportTo", "Service"],
  ["networking.istio.io/service-type", "Gateway"],
  ["networking.istio.io/traffic-distribution", "Namespace,Service,ServiceEntry"],
  ["prometheus.istio.io/merge-metrics", "Pod"],
  ["proxy.istio.io/config", "Pod"],
  ["proxy.istio.io/overrides", "Pod"],
  ["readiness.status.sidecar.istio.io/applicationPorts", "Pod"],
  ["readiness.status.sidecar.istio.io/failureThreshold", "Pod"],
  ["readiness.status.sidecar.istio.io/initialDelaySeconds", "Pod"],
  ["readiness.status.sidecar.istio.io/periodSeconds", "Pod"],
  ["sidecar.istio.io/agentLogLevel", "Pod"],
  ["sidecar.istio.io/bootstrapOverride", "Pod"],
  ["sidecar.istio.io/componentLogLevel", "Pod"],
  ["sidecar.istio.io/discoveryAddress", "Pod", true],
  ["sidecar.istio.io/extraStatTags", "Pod", true],
  ["sidecar.istio.io/inject", "Pod", true],
  ["sidecar.istio.io/interceptionMode", "Pod"],
  ["sidecar.istio.io/logLevel", "Pod"],
  ["sidecar.istio.io/nativeSidecar", "Pod"],
  ["sidecar.istio.io/proxyCPU", "Pod"],
  ["sidecar.istio.io/proxyCPULimit", "Pod"],
  ["sidecar.istio.io/proxyImage", "Pod"],
  ["sidecar.istio.io/proxyImageType", "Pod"],
  ["sidecar.istio.io/proxyMemory", "Pod"],
  ["sidecar.istio.io/proxyMemoryLimit", "Pod"],
  ["sidecar.istio.io/rewriteAppHTTPProbers", "Pod"],
  ["sidecar.istio.io/statsCompression", "Pod", true],
  ["sidecar.istio.io/statsEvictionInterval", "Pod"],
  ["sidecar.istio.io/statsFlushInterval", "Pod"],
  ["sidecar.istio.io/statsHistogramBins", "Pod"],
  ["sidecar.istio.io/statsHistogramBuckets", "Pod"],
  ["sidecar.istio.io/statsInclusionPrefixes", "Pod", true],
  ["sidecar.istio.io/statsInclusionRegexps", "Pod", true],
  ["sidecar.istio.io/statsInclusionSuffixes", "Pod", true],
  ["sidecar.istio.io/status", "Pod"],
  ["sidecar.istio.io/userVolume", "Pod"],
  ["sidecar.istio.io/userVolumeMount", "Pod"],
  ["status.sidecar.istio.io/port", "Pod"],
  ["topology.istio.io/controlPlaneClusters", "Namespace"],
  ["traffic.istio.io/nodeSelector", "Service"],
  ["traffic.sidecar.istio.io/excludeInboundPorts", "Pod"],
  ["traffic.sidecar.istio.io/excludeInterfaces", "Pod"],
  ["traffic.sidecar.istio.io/excludeOutboundIPRanges", "Pod"],
  ["traffic.sidecar.istio.io/excludeOutboundPorts", "Pod"],
  ["traffic.sidecar.istio.io/includeInboundPorts", "Pod"],
  ["traffic.sidecar.istio.io/includeOutboundIPRanges", "Pod"],
  ["traffic.sidecar.istio.io/includeOutboundPorts", "Pod"],
  ["traffic.sidecar.istio.io/kubevirtInterfaces", "Pod", true],
];
const KNOWN = new Map(ANNOTATIONS.map(([name, kinds, deprecated]) => [name, { kinds: kinds.split(","), deprecated: deprecated ?? false }]));

/** Set by Istio itself, never by users: not checked. */
const IGNORED = new Set(["sidecar.istio.io/status", "gateway.istio.io/controller-version", "istio.io/rev"]);

const uint = (bits: number) => (v: string) => (/^\d+$/.test(v) && BigInt(v) < 2n ** BigInt(bits) ? undefined : `strconv.ParseUint: parsing ${JSON.stringify(v)}: ${/^\d+$/.test(v) ? "value out of range" : "invalid syntax"}`);
function ports(what: string) {
  return (v: string) => {
    const s = v.trim();
    if (!s) return undefined;
    const bad = s.split(",").find((p) => uint(16)(p.trim()) !== undefined);
    return bad === undefined ? undefined : `${what} invalid: failed parsing port '${bad}'`;
  };
}
const CIDR = /^(?:(?:\d{1,3}\.){3}\d{1,3}\/\d{1,2}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\/\d{1,3})$/;
const cidrs = (what: string, star: boolean) => (v: string) => {
  if ((star && v === "*") || v === "") return undefined;
  const bad = v.split(",").find((c) => !CIDR.test(c));
  return bad === undefined ? undefined : `${what} invalid: failed parsing cidr '${bad}'`;
};
const interfaces = (v: string) => {
  if (v === "") return undefined;
  for (const raw of v.split(",")) {
    const i = raw.trim();
    if (!i) return "empty interface name";
    if (i.length > 15) return `interface name ${JSON.stringify(i)} too long (max 15 chars)`;
    if (!/^[a-zA-Z][a-zA-Z0-9_.\-]*$/.test(i)) return `interface name ${JSON.stringify(i)} contains invalid characters`;
  }
  return undefined;
};
const QUANTITY = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

/** The injector's checks on annotation values (inject.AnnotationValidation): a reason when invalid. */
const VALIDATE: Record<string, (v: string) => string | undefined> = {
  "sidecar.istio.io/interceptionMode": (v) => (["REDIRECT", "TPROXY", "NONE"].includes(v) ? undefined : `interceptionMode invalid, use REDIRECT,TPROXY,NONE: ${v}`),
  "status.sidecar.istio.io/port": (v) => (uint(16)(v.trim()) === undefined ? undefined : `excludeInboundPorts invalid: failed parsing port '${v}'`),
  "readiness.status.sidecar.istio.io/initialDelaySeconds": uint(32),
  "readiness.status.sidecar.istio.io/periodSeconds": uint(32),
  "readiness.status.sidecar.istio.io/failureThreshold": uint(32),
  "traffic.sidecar.istio.io/includeOutboundIPRanges": cidrs("includeIPRanges", true),
  "traffic.sidecar.istio.io/excludeOutboundIPRanges": cidrs("excludeIPRanges", false),
  "traffic.sidecar.istio.io/includeInboundPorts": (v) => (v === "*" ? undefined : ports("includeInboundPorts")(v)),
  "traffic.sidecar.istio.io/excludeInboundPorts": ports("excludeInboundPorts"),
  "traffic.sidecar.istio.io/excludeOutboundPorts": ports("excludeOutboundPorts"),
  "traffic.sidecar.istio.io/excludeInterfaces": interfaces,
  "traffic.sidecar.istio.io/kubevirtInterfaces": interfaces,
  "istio.io/reroute-virtual-interfaces": interfaces,
  "prometheus.istio.io/merge-metrics": (v) => (["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"].includes(v) ? undefined : `strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`),
  // Istio also validates the resulting ProxyConfig; here only that it reads as a YAML mapping.
  "proxy.istio.io/config": (v) => {
    try {
      const x = parse(v) as unknown;
      return x === null || (typeof x === "object" && !Array.isArray(x)) ? undefined : "failed to convert to apply proxy config: not a mapping";
    } catch (e) {
      return `failed to convert to apply proxy config: ${(e as Error).message.split("\n")[0]}`;
    }
  },
  ...Object.fromEntries(["sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyMemory", "sidecar.istio.io/proxyCPULimit", "sidecar.istio.io/proxyMemoryLimit"].map((a) => [a,
    (v: string) => (/[\u0000-\u001f\u007f-\u009f]/.test(v) ? "value contains control characters" : QUANTITY.test(v) ? undefined : "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")])),
};

const isIstioAnnotation = (a: string) => a === "kubernetes.io/ingress.class" || a.split("/")[0]!.endsWith("istio.io");

// Istio reads only the annotations it defines, on the kinds it defines them for: others are typos or misplaced, and silently do nothing.
export const k8sAnnotations: Analyzer = {
  name: "annotations.K8sAnalyzer",
  description: "Istio-prefixed annotations that are unknown, on the wrong kind, with a bad value, or deprecated.",
  analyze(ctx) {
    for (const kind of ["Namespace", "Service", "Pod", "Deployment"]) {
      for (const o of ctx.objects.of(kind)) {
        for (const [ann, value] of Object.entries(o.annotations)) {
          if (!isIstioAnnotation(ann) || IGNORED.has(ann)) continue;
          const def = KNOWN.get(ann);
          if (!def) {
            ctx.report("UnknownAnnotation", o, ann);
            continue;
          }
          // The inject annotation is deprecated in favour of the label, unless the label is set too.
          if (def.deprecated && !(ann === "sidecar.istio.io/inject" && "sidecar.istio.io/inject" in o.labels)) {
            ctx.report("DeprecatedAnnotation", o, ann, ann === "sidecar.istio.io/inject" ? ' in favor of the "sidecar.istio.io/inject" label' : "");
          }
          if (def.kinds.includes("Any")) continue;
          if (!def.kinds.includes(kind)) {
            ctx.report("MisplacedAnnotation", o, ann, def.kinds.join(", "));
            continue;
          }
          const invalid = VALIDATE[ann]?.(value);
          if (invalid !== undefined) ctx.report("InvalidAnnotation", o, ann, invalid);
        }
      }
    }
  },
};
