// What the control plane's roles share (server.ts wires them): its options, the proxies it knows and their
// streams, the endpoint book, the nodes' side, and the audit trail.
import type { BootstrapAuthority } from "../ca/bootstrap.js";
import type { CertificateAuthority } from "../ca/authority.js";
import type { JoinAuthority } from "../ca/join.js";
import type { PodInfo } from "../node/agent.js";
import type { PodRoute } from "../node/pod-network.js";
import type { ConfigStore } from "../store/store.js";
import type { EndpointTable } from "../wire/protocol.js";
import type { AdmissionLimits } from "./admission.js";
import type { BodyParts } from "./config-lines.js";
import type { EndpointBook } from "./endpoints.js";
import type { Lineage } from "./lineage.js";
import type { NodeEndpoint } from "./node-endpoint.js";
import type { Notifier } from "./notifier.js";
import type { ProxyRecord } from "./push.js";
import type { ServerHttp2Stream } from "node:http2";

export interface ControlPlaneOptions {
  store: ConfigStore;
  ca: CertificateAuthority;
  bootstrap: BootstrapAuthority;
  bootstrapTtlMs: number;
  /** The admin API's credential (admin-credential.ts): every admin call must carry it. */
  adminToken: string;
  /** Address of the proxies' endpoint (default 127.0.0.1; 0.0.0.0 when pods or other nodes reach it). The admin API stays on loopback. */
  host?: string;
  /** Port of the proxies' TLS endpoint (0: any free port). */
  port?: number;
  /** Port of the loopback admin API (0: any free port). */
  adminPort?: number;
  debounceMs?: number;
  /** Names outside the registry that proxies may resolve ("host:port" → "address:port"). */
  names?: Record<string, string>;
  /** PEM roots proxies trust when they originate TLS to hosts outside the mesh. */
  outsideRoots?: string;
  audit?: (line: Record<string, unknown>) => void;
  /** Where alerts go besides the audit trail: webhook receivers (blocked egress, changes to what workloads may reach). */
  notifier?: Notifier;
  /** Where the instances' certificate lineage is kept across restarts (none: after a restart every proxy must bootstrap again). */
  lineageFile?: string;
  /** Where endpoints are remembered across restarts (none: a restart forgets them). */
  endpointsFile?: string;
  /** How long a proxy's endpoints are still served after its stream drops (or the control plane restarts) while it reconnects (ZEROMESH_ENDPOINT_GRACE). */
  endpointGraceMs: number;
  /** This machine's node agent, when it runs pods (node/agent.ts): the admin API creates, lists and removes them. */
  pods?: PodRuntime;
  /** Limits on connections without a mesh certificate (LIMITS' by default; tests shorten the lifetime). */
  admission?: Partial<AdmissionLimits>;
  /** Other machines join as nodes with credentials from this authority (none: this control plane takes no nodes). */
  join?: JoinAuthority;
  /** How long a join credential lives (ZEROMESH_JOIN_TTL). */
  joinTtlMs?: number;
  /** This machine's own pods, where joined nodes reach them (its --listen address), so that they route there. */
  localPods?: () => { podCidr: string; address: string } | undefined;
  /** Where the joined nodes and their pod CIDRs are kept across restarts. */
  nodesFile?: string;
  /** Pod CIDRs never given to a joining node (this machine's own pods'). */
  reservedPodCidrs?: () => string[];
  /** How long a proxy's connection may carry nothing (LIMITS.idleMs; tests shorten it). */
  idleMs?: number;
  /** Where the proxies' stats endpoints are listed for Prometheus (file_sd), kept current as proxies come and go. */
  prometheusTargetsFile?: string;
}

/** What the admin API needs of a node agent. */
export interface PodRuntime {
  createPod(workload: string): Promise<PodInfo>;
  deletePod(workload: string): Promise<void>;
  list(): PodInfo[];
  /** Every push's endpoints (for the pods' cluster-IP rules); the configuration counts as in sync once this resolves. */
  applyServices?(endpoints: EndpointTable, routes: PodRoute[]): Promise<void>;
}

export type ReportType = "egress-blocked" | "denials";

/** One proxy's config stream. */
export interface Session {
  stream: ServerHttp2Stream;
  record: ProxyRecord;
  /** The proxy said it is stopping: its endpoints go when the stream closes. */
  leaving: boolean;
  /** A stream says hello once: every hello rewrites the endpoint book and pushes to every proxy. */
  helloSeen: boolean;
  /** When its last report of each kind was taken (proxies report once a second; more often is ignored). */
  lastReport: Record<ReportType, number>;
  /** A push found the stream still sending an earlier configuration: the latest goes when it drains. */
  owed: boolean;
  /** The last configuration sent on this stream: once the proxy acknowledges it, the next is sent as a delta from it. */
  sent?: { version: number; parts: BodyParts; delta: boolean };
}

export interface ControlState {
  readonly opts: ControlPlaneOptions;
  /** Every proxy that has a certificate or a stream, by workload instance. */
  readonly proxies: Map<string, ProxyRecord>;
  /** The open config streams, by workload instance. */
  readonly sessions: Map<string, Session>;
  readonly endpoints: EndpointBook;
  /** Pods' addresses by workload instance, from the node agents that run them. */
  readonly podAddresses: Map<string, string>;
  /** The certificates that speak for each instance (lineage.ts). */
  readonly lineage: Lineage;
  /** The nodes' side of the endpoint, when this control plane takes nodes. */
  readonly nodes?: NodeEndpoint;
  audit(event: string, fields: Record<string, unknown>): void;
}
