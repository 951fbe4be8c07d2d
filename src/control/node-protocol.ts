// The control plane ↔ node agent contract (`zeromesh node`), on the proxies' endpoint (HTTP/2 over TLS, the
// server checked against the mesh root the join file carries). Every request carries the node's join credential
// as `authorization: Node <credential>`. One long stream carries the node's configuration; unary calls report
// its pods. Pure: types, paths, and the checks every incoming body passes.
import { isIPv4 } from "node:net";
import { manifestOf } from "../api/convert.js";
import type { MeshConfig } from "../api/mesh.js";
import type { Snapshot } from "../store/snapshot.js";
import { parseJsonObject } from "./limits.js";
import { isListenerTable } from "../wire/protocol.js";
import type { EndpointTable } from "../wire/protocol.js";
import type { PodRoute } from "../node/pod-network.js";
import { Codes, ZmError } from "../api/errors.js";

export const NODE_PATHS = {
  /** The node's configuration stream (ndjson of NodeConfig); the node is joined while it is open. */
  stream: "/v1/node/stream",
  /** {workload, ip | null}: a pod's address (as a pod's status.podIP), or that the pod is gone. */
  pod: "/v1/node/pod",
  /** {workload}: a bootstrap credential for a workload instance assigned to this node → {token}. */
  bootstrap: "/v1/node/bootstrap",
  /** {workload, listeners | null}: a pod without a sidecar's ports. */
  endpoints: "/v1/node/endpoints",
} as const;

export const NODE_AUTH_SCHEME = "Node ";

export interface NodeConfig {
  type: "config";
  version: number;
  node: { name: string; podCidr: string };
  /** Every other joined node's pod CIDR and where it is reached. */
  routes: PodRoute[];
  mesh: MeshConfig;
  /** What a node agent needs to know: namespaces, Services, ServiceEntries, workloads (never Secrets or policies). */
  manifests: unknown[];
  endpoints: EndpointTable;
}

const NODE_KINDS = new Set(["Namespace", "Service", "ServiceEntry", "Pod", "Deployment", "ReplicaSet", "StatefulSet", "WorkloadEntry"]);

export function buildNodeConfig(snapshot: Snapshot, node: { name: string; podCidr: string }, routes: NodeConfig["routes"], version: number, endpoints: EndpointTable): NodeConfig {
  const manifests = [...snapshot.resources.values()].filter((r) => NODE_KINDS.has(r.kind)).map((r) => {
    const m = manifestOf(r);
    // Another node's workloads: what Services select and route by (labels, ports, identity), not their commands or environment.
    return m && "template" in r && r.template.nodeName !== node.name ? withoutContainerDetails(m) : m;
  }).filter((m) => m !== undefined);
  return { type: "config", version, node, routes, mesh: snapshot.mesh, manifests, endpoints };
}

/** A workload manifest whose containers keep only their names and ports. */
function withoutContainerDetails(m: unknown): unknown {
  const copy = structuredClone(m) as { kind?: string; spec?: { containers?: unknown; initContainers?: unknown; volumes?: unknown; template?: { spec?: Record<string, unknown> } } };
  const pod = copy.kind === "Pod" ? (copy.spec as Record<string, unknown> | undefined) : copy.spec?.template?.spec;
  if (pod) {
    const containers = Array.isArray(pod.containers) ? pod.containers as Record<string, unknown>[] : [];
    pod.containers = containers.map((c) => ({ name: c.name, image: c.image, ports: c.ports }));
    for (const k of Object.keys(pod)) if (!["containers", "serviceAccountName", "serviceAccount", "nodeName", "nodeSelector"].includes(k)) delete pod[k];
  }
  return copy;
}

const WORKLOAD = /^[a-z0-9][a-z0-9.-]*\/[a-z0-9][a-z0-9.-]*$/;

function workloadOf(body: Record<string, unknown>): string {
  if (typeof body.workload !== "string" || !WORKLOAD.test(body.workload)) throw new ZmError(Codes.BAD_MESSAGE, "workload must be \"NS/NAME\"");
  return body.workload;
}

export function checkPodReport(text: string): { workload: string; ip: string | null } {
  const body = parseJsonObject<Record<string, unknown>>(text);
  const ip = body.ip;
  if (ip !== null && (typeof ip !== "string" || !isIPv4(ip))) throw new ZmError(Codes.BAD_MESSAGE, "ip must be an IPv4 address or null");
  return { workload: workloadOf(body), ip };
}

export function checkBootstrapAsk(text: string): { workload: string } {
  return { workload: workloadOf(parseJsonObject<Record<string, unknown>>(text)) };
}

export function checkEndpointReport(text: string): { workload: string; listeners: Record<string, string> | null } {
  const body = parseJsonObject<Record<string, unknown>>(text);
  const ipv4 = (a: string) => isIPv4(a.slice(0, a.lastIndexOf(":")));
  if (body.listeners !== null && (!isListenerTable(body.listeners) || !Object.values(body.listeners).every(ipv4))) throw new ZmError(Codes.BAD_MESSAGE, "listeners must be {PORT: \"IPV4:PORT\"} or null");
  return { workload: workloadOf(body), listeners: body.listeners as Record<string, string> | null };
}
