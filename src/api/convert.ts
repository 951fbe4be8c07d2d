// The boundary for objects: one Kubernetes or Istio object (already parsed
// from YAML or JSON, or pushed by the control plane) in, a typed resource and
// precise issues out. No YAML here, so a proxy need not load a YAML parser.
import { Codes, type Issue, type Location } from "./errors.js";
import { readAuthorizationPolicy } from "./kinds/authorization-policy.js";
import { readDestinationRule } from "./kinds/destination-rule.js";
import { readGateway } from "./kinds/gateway.js";
import { readNamespace, readSecret, readService, readServiceAccount, readWorkload } from "./kinds/kube.js";
import { readPeerAuthentication } from "./kinds/peer-authentication.js";
import { readRequestAuthentication } from "./kinds/request-authentication.js";
import { readServiceEntry } from "./kinds/service-entry.js";
import { readSidecar } from "./kinds/sidecar.js";
import { readTelemetry } from "./kinds/telemetry.js";
import { readVirtualService } from "./kinds/virtual-service.js";
import { readWorkloadEntry } from "./kinds/workload-entry.js";
import { Reader } from "./reader.js";
import { keyOf, type Origin, type Resource } from "./types.js";

type Converter = (doc: Reader, origin: Origin) => Resource;

const NETWORKING = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"];
const SECURITY = ["security.istio.io/v1", "security.istio.io/v1beta1"];
const TELEMETRY = ["telemetry.istio.io/v1", "telemetry.istio.io/v1alpha1"];

/** kind → accepted apiVersions and converter. Istio kinds are validated strictly. */
const KINDS: Record<string, { versions: string[]; read: Converter; strict: boolean }> = {
  Namespace: { versions: ["v1"], read: readNamespace, strict: false },
  ServiceAccount: { versions: ["v1"], read: readServiceAccount, strict: false },
  Service: { versions: ["v1"], read: readService, strict: false },
  Secret: { versions: ["v1"], read: readSecret, strict: false },
  Pod: { versions: ["v1"], read: (d, o) => readWorkload(d, o, "Pod"), strict: false },
  Deployment: { versions: ["apps/v1"], read: (d, o) => readWorkload(d, o, "Deployment"), strict: false },
  ReplicaSet: { versions: ["apps/v1"], read: (d, o) => readWorkload(d, o, "ReplicaSet"), strict: false },
  StatefulSet: { versions: ["apps/v1"], read: (d, o) => readWorkload(d, o, "StatefulSet"), strict: false },
  Gateway: { versions: NETWORKING, read: readGateway, strict: true },
  VirtualService: { versions: NETWORKING, read: readVirtualService, strict: true },
  DestinationRule: { versions: NETWORKING, read: readDestinationRule, strict: true },
  ServiceEntry: { versions: NETWORKING, read: readServiceEntry, strict: true },
  Sidecar: { versions: NETWORKING, read: readSidecar, strict: true },
  WorkloadEntry: { versions: NETWORKING, read: readWorkloadEntry, strict: true },
  PeerAuthentication: { versions: SECURITY, read: readPeerAuthentication, strict: true },
  AuthorizationPolicy: { versions: SECURITY, read: readAuthorizationPolicy, strict: true },
  RequestAuthentication: { versions: SECURITY, read: readRequestAuthentication, strict: true },
  Telemetry: { versions: TELEMETRY, read: readTelemetry, strict: true },
};

/**
 * The document each resource was converted from, kept aside (not on the
 * domain object) so the control plane can send proxies exactly what the user
 * wrote, and proxies validate it again at their own boundary.
 */
const manifests = new WeakMap<Resource, unknown>();
export function manifestOf(r: Resource): unknown {
  return manifests.get(r);
}

export interface Loaded {
  resources: Resource[];
  /** meshConfig found in an `istio` ConfigMap, as a raw object to merge. */
  meshConfigs: { raw: unknown; at: Location }[];
  issues: Issue[];
}

/** How a ConfigMap's `mesh` text is read (YAML); absent, `istio` ConfigMaps are reported and skipped. */
export type MeshTextParser = (text: string, at: Location, issues: Issue[]) => unknown;

/** Converts objects that are already parsed, one document each. */
export function convertObjects(values: unknown[], file: string, parseMesh?: MeshTextParser, namespace?: string): Loaded {
  const out: Loaded = { resources: [], meshConfigs: [], issues: [] };
  values.forEach((v, i) => convertDocument(v, { file, doc: i + 1 }, out, parseMesh, namespace));
  return out;
}

/** One document: a single object, or a List of them. `namespace`: where objects without one land (`kubectl apply -n`). */
export function convertDocument(value: unknown, at: Location, out: Loaded, parseMesh?: MeshTextParser, namespace?: string): void {
  if (value === null || value === undefined) return; // empty document between separators
  // A List, or a typed one (AuthorizationPolicyList, ServiceList…) as `kubectl get -o yaml` writes them.
  const kind = (value as { kind?: unknown } | undefined)?.kind;
  if (typeof value === "object" && !Array.isArray(value) && typeof kind === "string" && (kind === "List" || (/^[A-Z]\w*List$/.test(kind) && Array.isArray((value as { items?: unknown }).items)))) {
    const items = (value as { items?: unknown }).items;
    (Array.isArray(items) ? items : []).forEach((item, j) => readOne(item, { ...at, path: `items[${j}]` }, out, parseMesh, namespace));
    return;
  }
  readOne(value, at, out, parseMesh, namespace);
}

function readOne(value: unknown, at: Location, out: Loaded, parseMesh: MeshTextParser | undefined, namespace: string | undefined): void {
  const root = Reader.root(value, at, out.issues, false);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    root.error("a document must be a Kubernetes object (apiVersion, kind, metadata)");
    return;
  }
  const kind = root.field("kind").string({ required: true });
  const apiVersion = root.field("apiVersion").string({ required: true });
  if (!kind || !apiVersion) return;
  const meta = (value as { metadata?: { namespace?: unknown; name?: unknown } }).metadata;
  const named: Location = { ...at, kind, namespace: typeof meta?.namespace === "string" ? meta.namespace : undefined, name: typeof meta?.name === "string" ? meta.name : undefined };
  if (kind === "ConfigMap") {
    // Istio reads meshConfig from the `istio` ConfigMap's `mesh` key.
    const mesh = root.field("data").field("mesh").value;
    if (named.name === "istio" && typeof mesh === "string") {
      if (!parseMesh) return void out.issues.push({ code: Codes.UNKNOWN_KIND, severity: "warning", at: named, message: "meshConfig in a ConfigMap is read by the control plane, not here; ignored" });
      const parsed = parseMesh(mesh, { ...named, path: "data.mesh" }, out.issues);
      if (parsed !== undefined) out.meshConfigs.push({ raw: parsed, at: { ...named, path: "data.mesh" } });
    }
    return;
  }
  const conv = KINDS[kind];
  if (namespace !== undefined && conv && kind !== "Namespace") {
    // As `kubectl apply -n`: an object without a namespace lands there; one that names another is refused.
    if (named.namespace !== undefined && named.namespace !== namespace) {
      return Reader.root(value, named, out.issues, false).field("metadata").field("namespace").error(`the namespace from the provided object "${named.namespace}" does not match the namespace "${namespace}"; pass --namespace=${named.namespace} to apply it`);
    }
    value = { ...(value as object), metadata: { ...(meta ?? {}), namespace } };
    named.namespace = namespace;
  }
  if (!conv) {
    // In one of Istio's own API groups an unknown kind is a mistake (Istio's API server would refuse it), not a resource to skip.
    if (/^[a-z.]+\.istio\.io\//.test(apiVersion) && !ISTIO_KINDS.includes(kind)) {
      const near = closestKind(kind);
      out.issues.push({ code: Codes.UNKNOWN_KIND, severity: "error", at: named, message: `${apiVersion} has no kind ${kind}${near ? ` (did you mean ${near}?)` : ""}` });
    } else out.issues.push({ code: Codes.UNKNOWN_KIND, severity: "warning", at: named, message: `kind ${apiVersion}/${kind} is not handled by zeromesh; ignored` });
    return;
  }
  if (!conv.versions.includes(apiVersion)) {
    Reader.root(value, named, out.issues, false).field("apiVersion").error(`${kind} must have apiVersion ${conv.versions.join(" or ")}, got "${apiVersion}"`);
    return;
  }
  const before = out.issues.length;
  const reader = new Reader(value, "", named, out.issues, conv.strict);
  reader.object(conv.strict ? ["apiVersion", "kind", "metadata", "spec", "status"] : undefined);
  const resource = conv.read(reader, { file: at.file, doc: at.doc });
  // checkDryRunAnnotation: only an AuthorizationPolicy may be dry-run (which actions, its reader says).
  if (conv.strict && kind !== "AuthorizationPolicy" && resource.meta.annotations["istio.io/dry-run"] !== undefined) {
    reader.field("metadata").field("annotations").field("istio.io/dry-run").error(`${kind} does not support the annotation istio.io/dry-run; remove it`);
  }
  manifests.set(resource, value);
  // Stamp the final name/namespace onto the issues this document raised.
  for (const i of out.issues.slice(before)) {
    i.at.namespace = resource.meta.namespace || undefined;
    i.at.name = resource.meta.name || i.at.name;
  }
  out.resources.push(resource);
}

/** Reports two documents in one apply that name the same object. */
export function findDuplicates(resources: Resource[]): Issue[] {
  const seen = new Map<string, Resource>();
  const issues: Issue[] = [];
  for (const r of resources) {
    const k = keyOf(r);
    const prev = seen.get(k);
    if (prev) {
      issues.push({
        code: Codes.DUPLICATE, severity: "error",
        at: { file: r.origin.file, doc: r.origin.doc, kind: r.kind, namespace: r.meta.namespace || undefined, name: r.meta.name },
        message: `defined twice in one apply (first at ${prev.origin.file}#${prev.origin.doc})`,
      });
    }
    seen.set(k, r);
  }
  return issues;
}

/** Every kind in Istio's API groups (istio/api), handled here or not. */
const ISTIO_KINDS = ["Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "Sidecar", "WorkloadEntry", "WorkloadGroup", "EnvoyFilter", "ProxyConfig",
  "AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication", "Telemetry", "WasmPlugin", "IstioOperator"];

/** The Istio kind a misspelt one is closest to (edit distance at most 2), if any. */
function closestKind(kind: string): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of ISTIO_KINDS) {
    const d = editDistance(kind.toLowerCase(), k.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { k, d };
  }
  return best?.k;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
