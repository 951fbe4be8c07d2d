import type { Reader } from "../reader.js";
import type { Meta } from "../types.js";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function checkName(name: string): string | undefined {
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) return `"${name}" is not a valid name (lower-case DNS subdomain)`;
  return undefined;
}

export function checkNamespaceName(name: string): string | undefined {
  if (name.length > 63 || !DNS1123_LABEL.test(name)) return `"${name}" is not a valid namespace name (lower-case DNS label)`;
  return undefined;
}

/** Reads metadata; a namespaced object without a namespace lands in "default", as kubectl does. */
export function readMeta(doc: Reader, namespaced: boolean, defaultNamespace = "default"): Meta {
  const m = doc.field("metadata");
  m.object();
  const nameR = m.field("name");
  const name = nameR.string({ required: true }) ?? "";
  if (name) {
    const err = checkName(name);
    if (err) nameR.error(err);
  }
  let namespace = "";
  if (namespaced) {
    const nsR = m.field("namespace");
    namespace = nsR.string() ?? defaultNamespace;
    const err = checkNamespaceName(namespace);
    if (err) nsR.error(err);
  }
  return { name, namespace, labels: m.field("labels").stringMap(), annotations: m.field("annotations").stringMap() };
}

/** Label selection (`matchLabels`, `labels`): no wildcards and no empty keys, as the CRDs' rules say. */
export function readSelector(r: Reader): Record<string, string> | undefined {
  if (!r.present) return undefined;
  const labels = r.stringMap();
  for (const [k, v] of Object.entries(labels)) {
    if (k === "") r.error("key must not be empty");
    else if (k.includes("*")) r.error(`wildcard not allowed in label key match ("${k}")`);
    if (v.includes("*")) r.error(`wildcard not allowed in label value match ("${k}: ${v}")`, `${r.path}.${k}`);
  }
  return labels;
}

const TARGET_GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const TARGET_KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

const ALLOWED_TARGETS = new Set(["core/Service", "networking.istio.io/ServiceEntry", "gateway.networking.k8s.io/Gateway", "gateway.networking.k8s.io/GatewayClass"]);

/** A policy's `targetRef`/`targetRefs` (Gateway API attachment), checked as Istio's CRDs check PolicyTargetReference. */
export interface TargetRef {
  group: string;
  kind: string;
  name: string;
}

function readTargetRef(t: Reader): TargetRef {
  t.object(["group", "kind", "name", "namespace"]);
  const group = t.field("group").string() ?? "";
  if (group.length > 253 || !TARGET_GROUP.test(group)) t.field("group").error(`"${group}" is not an API group`);
  const kind = t.field("kind").string({ required: true }) ?? "";
  if (t.field("kind").present && (kind.length > 63 || !TARGET_KIND.test(kind))) t.field("kind").error(`"${kind}" is not a kind`);
  const name = t.field("name").string({ required: true }) ?? "";
  if (t.field("name").present && (name === "" || name.length > 253)) t.field("name").error("must be 1 to 253 characters");
  if (t.field("namespace").string()) t.field("namespace").error("cross namespace referencing is not currently supported");
  // validatePolicyTargetReference: a Service, a ServiceEntry, a Gateway API Gateway or GatewayClass.
  if (kind && !ALLOWED_TARGETS.has(`${group || "core"}/${kind}`)) t.error(`targetRef must be to a core Service, networking.istio.io ServiceEntry, or gateway.networking.k8s.io Gateway or GatewayClass, not ${group}/${kind}`);
  return { group, kind, name };
}

/**
 * A policy's workload selection: `selector`, or Gateway API `targetRef`/`targetRefs` (at most one of the three,
 * at most 16 targets), as AuthorizationPolicy, RequestAuthentication and Telemetry share it.
 */
export function readPolicyTarget(spec: Reader): { selector?: Record<string, string>; targets: TargetRef[] } {
  const sel = spec.field("selector").object(["matchLabels"]);
  const one = spec.field("targetRef");
  const many = spec.field("targetRefs");
  if ([sel, one, many].filter((r) => r.present).length > 1) spec.error("only one of targetRefs or selector can be set");
  const list = many.list();
  if (list.length > 16) many.error(`at most 16 targets, got ${list.length}`);
  const targets = [...(one.present ? [readTargetRef(one)] : []), ...list.map(readTargetRef)];
  if (targets.length) spec.warn("targetRef(s) attach policies to waypoints and gateways of the Gateway API, which zeromesh does not run; the policy applies to nothing");
  return { selector: sel.present ? readSelector(sel.field("matchLabels")) ?? {} : undefined, targets };
}

/** `exportTo` values: ".", "*", "~" or namespace names. */
export function readExportTo(r: Reader): string[] {
  const values = r.strings();
  values.forEach((v, i) => {
    if (v !== "." && v !== "*" && v !== "~" && checkNamespaceName(v)) r.error(`"${v}" must be ".", "*", "~" or a namespace name`, `${r.path}[${i}]`);
  });
  if (values.includes("*") && values.length > 1) r.error(`"*" must not be combined with other values`);
  return values;
}
