// Shared test helpers: build snapshots from inline YAML and decide requests
// with them. Real parsing and the real engine; only the world is declared.
import { errorsOf, formatIssue } from "../api/errors.js";
import { DEFAULT_MESH, type MeshConfig } from "../api/mesh.js";
import type { Decision } from "../policy/decision.js";
import { decide } from "../policy/engine.js";
import type { Request, Source } from "../policy/request.js";
import { defaultWorld, type World } from "../policy/world.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import { Snapshot } from "../store/snapshot.js";

/** Parses YAML into a snapshot; throws on any error so a broken fixture is loud. */
export function snapshotOf(yaml: string, mesh: Partial<MeshConfig> = {}): Snapshot {
  const parsed = parseTexts([{ text: yaml, file: "fixture.yaml" }], { ...DEFAULT_MESH, ...mesh });
  const errs = errorsOf(parsed.issues);
  if (errs.length) throw new Error(errs.map(formatIssue).join("\n"));
  return Snapshot.of(parsed.resources, parsed.mesh ?? { ...DEFAULT_MESH, ...mesh });
}

/** Issues (errors and warnings) a text produces, formatted. */
export function issuesOf(yaml: string, file = "input.yaml"): string[] {
  return parseTexts([{ text: yaml, file }], DEFAULT_MESH).issues.map(formatIssue);
}

export function req(url: string, init: Partial<Omit<Request, "scheme" | "host" | "port">> = {}): Request {
  const u = new URL(url);
  const scheme = u.protocol.replace(":", "") as Request["scheme"];
  return {
    scheme, host: u.hostname, port: u.port ? Number(u.port) : scheme === "https" ? 443 : 80,
    method: init.method ?? "GET", path: scheme === "tcp" ? "" : u.pathname + u.search,
    headers: { host: u.host, ...init.headers }, clientTls: init.clientTls ?? (scheme === "https" ? { trust: [], insecure: true } : undefined),
    sourceIp: init.sourceIp,
  };
}

export function from(snapshot: Snapshot, owner: string): Source {
  if (owner.startsWith("outside@")) {
    const m = /^outside@([^/]+)\/([^:]+):(\d+)$/.exec(owner)!;
    return { kind: "outside", via: { namespace: m[1]!, service: m[2]!, port: Number(m[3]) } };
  }
  const w = Registry.of(snapshot).instancesOf(owner)[0];
  if (!w) throw new Error(`fixture has no workload ${owner}`);
  return { kind: "workload", workload: w };
}

/** Decides `url` from `owner` ("ns/name" or "outside@ns/svc:port"). */
export function check(snapshot: Snapshot, owner: string, url: string, init: Partial<Request> = {}, world: World = defaultWorld()): Decision {
  return decide({ snapshot, world }, from(snapshot, owner), req(url, init));
}

/** A compact outcome for table assertions: 200, 403, "reset", "echo", "forwarded". */
export function outcomeOf(d: Decision): number | string {
  const o = d.outcome;
  return o.kind === "response" ? o.status : o.kind === "error" ? o.error : o.kind;
}

/** Namespaces with injection on, plus one workload and Service per entry. */
export function meshYaml(apps: { ns: string; name: string; port?: number; portName?: string; sa?: string; labels?: Record<string, string>; inject?: boolean; replicas?: number; node?: string; command?: string[] }[]): string {
  const nss = [...new Set(apps.map((a) => a.ns))];
  const docs = nss.map((ns) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n  labels: {istio-injection: enabled}`);
  for (const a of apps) {
    const labels = { app: a.name, ...a.labels };
    const port = a.port ?? 80;
    const inject = a.inject === false ? `\n        sidecar.istio.io/inject: "false"` : "";
    docs.push(`apiVersion: apps/v1
kind: Deployment
metadata: {name: ${a.name}, namespace: ${a.ns}}
spec:${a.replicas ? `\n  replicas: ${a.replicas}` : ""}
  selector: {matchLabels: {app: ${a.name}}}
  template:
    metadata:
      labels:${Object.entries(labels).map(([k, v]) => `\n        ${k}: ${v}`).join("")}${inject}
    spec:
      serviceAccountName: ${a.sa ?? a.name}${a.node ? `\n      nodeName: ${a.node}` : ""}
      containers: [{name: app, image: x,${a.command ? ` command: ${JSON.stringify(a.command)},` : ""} ports: [{containerPort: ${port}}]}]`);
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: ${a.name}, namespace: ${a.ns}}
spec:
  selector: {app: ${a.name}}
  ports: [{name: ${a.portName ?? "http"}, port: ${port}}]`);
  }
  return docs.join("\n---\n");
}

/**
 * A gateway as gateway injection declares it, for tests: a Deployment `ns/name` (pods labelled `gw: name`) whose proxy
 * listens on `port`, and a Gateway of the same name serving `servers` (YAML, a flow list) there. The namespace
 * must exist; routes are the test's own.
 */
export function gatewayYaml(ns: string, name: string, port: number, servers: string): string {
  return `
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {matchLabels: {gw: ${name}}}
  template:
    metadata: {labels: {gw: ${name}}, annotations: {inject.istio.io/templates: gateway}}
    spec: {containers: [{name: istio-proxy, image: auto, ports: [{containerPort: ${port}}]}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {gw: ${name}}
  servers: ${servers}
`;
}
