// What `zeromesh analyze` reads: every Kubernetes and Istio object in the
// input, as written (analyzers look at fields the mesh itself never uses, such
// as a container's securityContext or a Service port's name), with where it
// came from. Lists are expanded; objects in Kubernetes' own namespaces are
// dropped, as istioctl drops them.
import { LineCounter, parseAllDocuments } from "yaml";
import { rec } from "./util.js";

export interface AnalysisObject {
  kind: string;
  apiVersion: string;
  /** "" when the input gave none and no default applies. */
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The whole manifest. */
  raw: Record<string, unknown>;
  /** `spec` (an empty object when absent). */
  spec: Record<string, any>;
  /** Where it was read: "file.yaml:12" (the document's first line), or the control plane. */
  reference?: string;
}

/** Kubernetes' own namespaces: nothing of the mesh's lives there (inject.IgnoredNamespaces). */
export const IGNORED_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]);

export interface ReadResult {
  objects: AnalysisObject[];
  /** Files or documents that could not be parsed. */
  errors: string[];
}

const strings = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(rec(v)).filter(([, x]) => typeof x === "string")) as Record<string, string>;

/** One manifest as an object (the default namespace for those that name none), or undefined when it is not one. */
export function objectOf(raw: unknown, defaultNamespace: string, reference?: string): AnalysisObject | undefined {
  const r = rec(raw);
  const meta = rec(r.metadata);
  if (typeof r.kind !== "string" || typeof meta.name !== "string") return undefined;
  return {
    kind: r.kind, apiVersion: typeof r.apiVersion === "string" ? r.apiVersion : "", namespace: typeof meta.namespace === "string" ? meta.namespace : r.kind === "Namespace" ? "" : defaultNamespace,
    name: meta.name, labels: strings(meta.labels), annotations: strings(meta.annotations), raw: r, spec: rec(r.spec), reference,
  };
}

/** Every object in these files' texts (multi-document YAML or JSON; Lists expanded). */
export function readObjects(files: { file: string; text: string }[], defaultNamespace: string): ReadResult {
  const out: ReadResult = { objects: [], errors: [] };
  for (const { file, text } of files) {
    const lines = new LineCounter();
    for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
      if (doc.errors.length) {
        out.errors.push(`${file}: ${doc.errors[0]!.message.split("\n")[0]}`);
        continue;
      }
      const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
      if (value === null || value === undefined) continue;
      const start = doc.contents?.range?.[0];
      const reference = `${file}:${start === undefined ? 1 : lines.linePos(start).line}`;
      const r = rec(value);
      const items = r.kind === "List" || (typeof r.kind === "string" && r.kind.endsWith("List") && Array.isArray(r.items)) ? (r.items as unknown[]) : [value];
      for (const item of items) {
        const o = objectOf(item, defaultNamespace, reference);
        if (!o) {
          out.errors.push(`${reference}: not a Kubernetes object (kind and metadata.name are required)`);
          continue;
        }
        if (IGNORED_NAMESPACES.has(o.namespace) || (o.kind === "Namespace" && IGNORED_NAMESPACES.has(o.name))) continue;
        out.objects.push(o);
      }
    }
  }
  return out;
}

/** "Kind ns/name", or "Kind name" for an object without a namespace: how istioctl names an object in a message. */
export const friendlyName = (o: AnalysisObject) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`;

/** The API group of an apiVersion ("networking.istio.io/v1" → "networking.istio.io"; "v1" → ""). */
export const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "");

const CONTROLLERS = new Set(["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"]);

/**
 * The Pods a cluster would run for the workload controllers among the objects (one per controller, from its pod
 * template), where the input has none of its own: zeromesh runs Deployments as it reads them, so a Gateway or
 * Sidecar selecting a Deployment's labels selects a workload. istioctl, given files, sees no Pods and reports such
 * selectors as matching nothing. The Pod carries the template's labels, service account and containers; no
 * securityContext (the controller itself is checked for that).
 */
export function withControllerPods(objects: AnalysisObject[]): AnalysisObject[] {
  const pods = objects.filter((o) => o.kind === "Pod");
  const derived: AnalysisObject[] = [];
  for (const c of objects) {
    if (!CONTROLLERS.has(c.kind)) continue;
    const template = rec(c.spec.template);
    const meta = rec(template.metadata);
    const labels = strings(meta.labels);
    const has = pods.some((p) => p.namespace === c.namespace && Object.keys(labels).length > 0 && Object.entries(labels).every(([k, v]) => p.labels[k] === v));
    if (has) continue;
    const spec = rec(template.spec);
    const containers = (Array.isArray(spec.containers) ? spec.containers : []).map((x: unknown) => {
      const { securityContext: _, ...rest } = rec(x);
      return rest;
    });
    const podSpec = { ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}), containers };
    const raw = { apiVersion: "v1", kind: "Pod", metadata: { name: `${c.name}-0`, namespace: c.namespace, labels, annotations: strings(meta.annotations) }, spec: podSpec };
    derived.push({ kind: "Pod", apiVersion: "v1", namespace: c.namespace, name: `${c.name}-0`, labels, annotations: strings(meta.annotations), raw, spec: podSpec, reference: c.reference });
  }
  return [...objects, ...derived];
}
