// Helpers the analyzers share, with the semantics of Istio's analyzer utilities (label selectors as
// Kubernetes' SelectorFromSet, host names with wildcards, short service names resolved to FQDNs,
// the host → service index that destinations are checked against, mesh membership).
import type { Context } from "./context.js";
import type { AnalysisObject } from "./objects.js";

// ---- loose YAML access ----

export const rec = (v: unknown): Record<string, any> => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, any>) : {});
export const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));
export const num = (v: unknown): number => (typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : 0);
export const strMap = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(rec(v)).map(([k, x]) => [k, str(x)]));

// ---- label selectors ----

/** Does a selector made from this set of labels match these labels? (An empty set matches everything.) */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => k in labels && labels[k] === v);
}

/** A set selector as Kubernetes prints it: "k1=v1,k2=v2", keys sorted. */
export function selectorString(selector: Record<string, string> | undefined): string {
  return Object.keys(selector ?? {}).sort().map((k) => `${k}=${selector![k]}`).join(",");
}

/** A workload selector's labels (`spec.selector.matchLabels`-style `{matchLabels}` objects or a plain map). */
export const matchLabels = (v: unknown): Record<string, string> => strMap(rec(v).matchLabels);

/** "ns/name", or "name" with no namespace (Istio's resource.FullName). */
export const fullName = (o: { namespace: string; name: string }) => (o.namespace ? `${o.namespace}/${o.name}` : o.name);

/** A name that may carry "ns/" (resource.NewShortOrFullName). */
export function shortOrFullName(defaultNamespace: string, name: string): { namespace: string; name: string } {
  const i = name.indexOf("/");
  return i < 0 ? { namespace: defaultNamespace, name } : { namespace: name.slice(0, i), name: name.slice(i + 1) };
}

// ---- host names ----

const wild = (h: string) => h.startsWith("*");

/** Do two host names overlap, either one possibly wildcarded (host.Name.Matches)? */
export function hostMatches(n: string, o: string): boolean {
  if (wild(n)) {
    if (wild(o)) return n.length < o.length ? o.slice(1).endsWith(n.slice(1)) : n.slice(1).endsWith(o.slice(1));
    return o.endsWith(n.slice(1));
  }
  if (wild(o)) return n.endsWith(o.slice(1));
  return n === o;
}

/** Is host n covered by host o (host.Name.SubsetOf)? */
export function hostSubsetOf(n: string, o: string): boolean {
  if (wild(n)) return wild(o) && n.length >= o.length && n.slice(1).endsWith(o.slice(1));
  if (wild(o)) return n.endsWith(o.slice(1));
  return n === o;
}

/** Hosts ("ns/host" or "host") visible to a namespace, the "ns/" stripped (host.NamesForNamespace). */
export function namesForNamespace(hosts: string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const i = h.indexOf("/");
    if (i < 0) out.push(h);
    else if (h.slice(0, i) === namespace || h.slice(0, i) === "*") out.push(h.slice(i + 1));
  }
  return out;
}

export const CLUSTER_DOMAIN = "svc.cluster.local";
const FQDN = /^(.+)\.(.+)\.svc\.cluster\.local$/;

/** "name.ns.svc.cluster.local" → {ns, name}; anything else → empty names (util.GetFullNameFromFQDN). */
export function fullNameFromFQDN(fqdn: string): { namespace: string; name: string } {
  const m = FQDN.exec(fqdn);
  return m ? { namespace: m[2]!, name: m[1]! } : { namespace: "", name: "" };
}

/** The Service a host names: an in-cluster FQDN, else a short name in the given namespace (util.GetResourceNameFromHost). */
export function resourceNameFromHost(defaultNamespace: string, host: string): { namespace: string; name: string } {
  const n = fullNameFromFQDN(host);
  return n.namespace === "" ? { namespace: defaultNamespace, name: host } : n;
}

/** A short name made an FQDN in the namespace; wildcards and dotted names unchanged (util.ConvertHostToFQDN). */
export const hostToFQDN = (namespace: string, host: string) => (!host.startsWith("*") && !host.includes(".") ? `${host}.${namespace}.${CLUSTER_DOMAIN}` : host);

// ---- the services a destination host can name (ServiceEntries and Services, by export scope) ----

/** A service as destinations see it: its hosts and ports (a Service becomes one of these). */
export interface ServiceLike {
  hosts: string[];
  ports: { number: number; name: string; protocol: string }[];
  workloadSelector?: Record<string, string>;
  object: AnalysisObject;
}

/** "scope/fqdn" → service (util.InitServiceEntryHostMap). */
export type ServiceHostMap = Map<string, ServiceLike>;
const scoped = (scope: string, namespace: string, host: string) => `${scope}/${hostToFQDN(namespace, host)}`;

export function serviceHostMap(ctx: Context): ServiceHostMap {
  const out: ServiceHostMap = new Map();
  for (const r of ctx.objects.of("ServiceEntry")) {
    const se: ServiceLike = {
      hosts: arr(r.spec.hosts).map(str),
      ports: arr(r.spec.ports).map((p) => ({ number: num(p?.number), name: str(p?.name), protocol: str(p?.protocol) })),
      workloadSelector: r.spec.workloadSelector ? strMap(rec(r.spec.workloadSelector).labels) : undefined,
      object: r,
    };
    const exportTo = arr(r.spec.exportTo).map(str);
    let all = false;
    for (const h of se.hosts) {
      if (exportTo.length === 0 || all) {
        out.set(scoped("*", r.namespace, h), se);
        continue;
      }
      for (const ns of exportTo) {
        if (ns === "*") {
          out.set(scoped("*", r.namespace, h), se);
          all = true;
          break;
        }
        out.set(scoped(ns === "." ? r.namespace : ns, r.namespace, h), se);
      }
    }
  }
  for (const r of ctx.objects.of("Service")) {
    const se: ServiceLike = {
      hosts: [hostToFQDN(r.namespace, r.name)],
      ports: arr(r.spec.ports).map((p) => ({ number: num(p?.port), name: str(p?.name), protocol: str(p?.protocol) })),
      object: r,
    };
    const anno = r.annotations["networking.istio.io/exportTo"] ?? "";
    const scopes = anno === "" ? ["*"] : anno.split(",").map((s) => (s.trim() === "." ? r.namespace : s.trim()));
    for (const scope of scopes) out.set(scoped(scope, r.namespace, r.name), se);
  }
  return out;
}

/** The service a host in a namespace (with the referrer's exportTo) resolves to, or undefined (util.GetDestinationHost). */
export function destinationHost(sourceNs: string, exportTo: string[], host: string, services: ServiceHostMap): ServiceLike | undefined {
  const all = services.get(scoped("*", sourceNs, host));
  if (all) return all;
  for (const e of exportTo.length === 0 ? [sourceNs] : exportTo.map((e) => (e === "." ? sourceNs : e))) {
    const s = services.get(scoped(e, sourceNs, host));
    if (s) return s;
  }
  for (const [key, s] of services) {
    const i = key.indexOf("/");
    const scope = key.slice(0, i);
    const seHost = key.slice(i + 1);
    if (!seHost.startsWith("*") || (scope !== "*" && scope !== sourceNs)) continue;
    if ((host.startsWith("*") ? host.slice(1) : host).endsWith(seHost.slice(1))) return s;
  }
  return undefined;
}

// ---- workloads ----

/** Labelled as part of Istio's own control plane (util.IsIstioControlPlane). */
export const isIstioControlPlane = (o: AnalysisObject) => "istio" in o.labels || o.labels.release === "istio";

/** A Deployment's or Pod's pod template: metadata and spec. */
export function podTemplate(o: AnalysisObject): { labels: Record<string, string>; annotations: Record<string, string>; spec: Record<string, any> } {
  if (o.kind === "Pod") return { labels: o.labels, annotations: o.annotations, spec: o.spec };
  const t = rec(o.spec.template);
  const meta = rec(t.metadata);
  return { labels: strMap(meta.labels), annotations: strMap(meta.annotations), spec: rec(t.spec) };
}

/** Will this Pod or Deployment's pods run a sidecar: proxy container, injection label/annotation, else the namespace label (util.*InMesh). */
export function inMesh(o: AnalysisObject, ctx: Context): boolean {
  const t = podTemplate(o);
  const containers = [...arr(t.spec.containers), ...(o.kind === "Pod" ? arr(t.spec.initContainers) : [])];
  if (str(containers.find((c) => c?.name === "istio-proxy")?.image) !== "") return true;
  for (const m of [t.labels, t.annotations]) if ("sidecar.istio.io/inject" in m) return m["sidecar.istio.io/inject"] === "true";
  const ns = ctx.objects.find("Namespace", "", o.namespace);
  return ns ? ns.labels["istio-injection"] === "enabled" : false;
}

/** In ambient mode: the pod is redirected by ztunnel (util.PodInAmbientMode). */
export const podInAmbient = (pod: AnalysisObject | undefined) => pod?.annotations["ambient.istio.io/redirection"] === "enabled";

/** A namespace enrolled in ambient and not in sidecar injection (util.NamespaceInAmbientMode). */
export function namespaceInAmbient(ns: AnalysisObject | undefined): boolean {
  if (!ns) return false;
  if (ns.labels["istio-injection"] === "enabled") return false;
  if (ns.labels["istio.io/rev"]) return false;
  return ns.labels["istio.io/dataplane-mode"] === "ambient";
}

// ---- protocols ----

const PROTOCOLS: Record<string, string> = { tcp: "TCP", udp: "UDP", grpc: "GRPC", "grpc-web": "GRPC-Web", http: "HTTP", http_proxy: "HTTP_PROXY", http2: "HTTP2", https: "HTTPS", tls: "TLS", mongo: "Mongo", redis: "Redis", mysql: "MySQL" };
export const UNSUPPORTED = "UnsupportedProtocol";
/** A protocol name, any case, or UNSUPPORTED (protocol.Parse). */
export const parseProtocol = (s: string) => PROTOCOLS[s.toLowerCase()] ?? UNSUPPORTED;

/** A Service port's protocol from its protocol, appProtocol or name prefix (kube.ConvertProtocol). */
export function convertProtocol(port: number, portName: string, proto: string, appProtocol?: string): string {
  if (proto === "UDP") return "UDP";
  let name = portName;
  if (appProtocol !== undefined) {
    name = appProtocol;
    const std: Record<string, string> = { "kubernetes.io/h2c": "HTTP2", "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "HTTPS" };
    if (std[name]) return std[name]!;
  }
  if (name.slice(0, 8).toLowerCase() === "grpc-web") return "GRPC-Web";
  if (name.includes("-")) name = name.slice(0, name.indexOf("-"));
  const p = parseProtocol(name);
  if (p === UNSUPPORTED && [25, 53, 3306, 27017].includes(port)) return "TCP";
  return p;
}

/** An IntOrString as Go prints it (intstr.String): "" for absent is "0". */
export const intOrString = (v: unknown) => (typeof v === "number" ? String(v) : typeof v === "string" ? v : "0");
/** An IntOrString's int value (intstr.IntValue): strings parsed, 0 when not a number. */
export const intValue = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" && /^[+-]?\d+$/.test(v) ? Number(v) : 0);
