// The labels of Istio's standard metrics for one pair of peers, as each side
// can know them. The client's proxy (reporter "source") knows both workloads
// from its configuration; the server's proxy (reporter "destination") knows
// its caller only by the mTLS identity — Istio learns the caller's workload
// name by exchanging metadata, which zeromesh does not, so it is "unknown".
// Pure.
import type { Workload } from "../registry/model.js";

export interface PeerLabels {
  reporter: "source" | "destination";
  source_workload: string;
  source_workload_namespace: string;
  source_principal: string;
  destination_workload: string;
  destination_workload_namespace: string;
  destination_principal: string;
  destination_service: string;
  destination_service_name: string;
  destination_service_namespace: string;
  request_protocol: "http" | "grpc" | "tcp";
  connection_security_policy: "mutual_tls" | "none" | "unknown";
}

const UNKNOWN = "unknown";

/** The workload's name as Istio labels it: its Deployment's (or Pod's, WorkloadEntry's) name. */
const workloadName = (w: Workload) => w.owner.slice(w.owner.indexOf("/") + 1);

/** "web.b.svc.cluster.local" → name web, namespace b; other hosts (ServiceEntry, outside) are their own name. */
function service(host: string | undefined): Pick<PeerLabels, "destination_service" | "destination_service_name" | "destination_service_namespace"> {
  if (!host) return { destination_service: UNKNOWN, destination_service_name: UNKNOWN, destination_service_namespace: UNKNOWN };
  const m = /^([^.]+)\.([^.]+)\.svc\./.exec(host);
  return { destination_service: host, destination_service_name: m ? m[1]! : host, destination_service_namespace: m ? m[2]! : UNKNOWN };
}

/** As the client's proxy reports a request or connection it sent (`to` absent: answered by the proxy itself or sent outside the mesh). */
export function outboundLabels(self: Workload, to: Workload | undefined, host: string | undefined, protocol: PeerLabels["request_protocol"]): PeerLabels {
  return {
    reporter: "source",
    source_workload: workloadName(self),
    source_workload_namespace: self.namespace,
    source_principal: self.spiffe,
    destination_workload: to ? workloadName(to) : UNKNOWN,
    destination_workload_namespace: to ? to.namespace : UNKNOWN,
    destination_principal: to?.sidecar ? to.spiffe : UNKNOWN,
    ...service(host),
    request_protocol: protocol,
    connection_security_policy: UNKNOWN, // as Istio: only the server side knows
  };
}

/** As the server's proxy reports a request or connection it received (`peerSpiffe`: the caller's mTLS identity, if any). */
export function inboundLabels(self: Workload, peerSpiffe: string | undefined, host: string | undefined, protocol: PeerLabels["request_protocol"]): PeerLabels {
  const ns = peerSpiffe ? /\/ns\/([^/]+)\//.exec(peerSpiffe)?.[1] : undefined;
  return {
    reporter: "destination",
    source_workload: UNKNOWN,
    source_workload_namespace: ns ?? UNKNOWN,
    source_principal: peerSpiffe ?? UNKNOWN,
    destination_workload: workloadName(self),
    destination_workload_namespace: self.namespace,
    destination_principal: self.spiffe,
    ...service(host),
    request_protocol: protocol,
    connection_security_policy: peerSpiffe ? "mutual_tls" : "none",
  };
}

/** `name="value",…` in Prometheus's text format (values escaped). */
export function renderLabels(l: PeerLabels): string {
  return Object.entries(l).map(([k, v]) => `${k}="${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",");
}

/** gRPC is HTTP/2 with a gRPC content type; Istio labels its requests "grpc". */
export const isGrpc = (headers: Record<string, string | string[] | undefined>): boolean => {
  const t = headers["content-type"];
  return typeof t === "string" && t.startsWith("application/grpc");
};
