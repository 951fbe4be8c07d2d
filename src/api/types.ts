// Typed domain objects. YAML is converted into these once, in api/kinds;
// nothing past that layer reads raw manifests.
import type { X509Certificate } from "node:crypto";
import type { StringMatch } from "./match.js";
import type { Re2 } from "./re2.js";

export interface Meta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Where a resource came from, for error messages and explanations. */
export interface Origin {
  file: string;
  doc: number;
}

interface Base<K extends string> {
  kind: K;
  meta: Meta;
  origin: Origin;
}

// ---------- Kubernetes ----------

export interface Namespace extends Base<"Namespace"> {}
export interface ServiceAccount extends Base<"ServiceAccount"> {}

export type Protocol =
  | "HTTP" | "HTTP2" | "GRPC" | "HTTPS" | "TLS" | "TCP" | "MONGO" | "REDIS" | "MYSQL" | "UDP" | "AUTO";

export interface ServicePort {
  name?: string;
  port: number;
  /** Number, or a container port name to resolve per workload. */
  targetPort: number | string;
  protocol: Protocol;
}

export interface KubeService extends Base<"Service"> {
  selector?: Record<string, string>;
  /** spec.clusterIP as written ("None": headless); allocated from the service CIDR when absent. */
  clusterIP?: string;
  ports: ServicePort[];
  exportTo: string[];
}

export interface ContainerPort {
  name?: string;
  port: number;
}

export interface PodTemplate {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  serviceAccount: string;
  ports: ContainerPort[];
  /** The node it is assigned to: `spec.nodeName`, or a `kubernetes.io/hostname` nodeSelector (none: the control plane's own machine). */
  nodeName?: string;
  /** The first container's command and args, when given: what a node agent runs as the application (images are not run). */
  command?: string[];
}

/** Pod, Deployment, ReplicaSet or StatefulSet: something that runs workloads. */
export interface WorkloadSource extends Base<"Pod" | "Deployment" | "ReplicaSet" | "StatefulSet"> {
  replicas: number;
  template: PodTemplate;
}

export interface TlsMaterial {
  /** The certificate chain (leaf first), parsed at load. */
  chain: X509Certificate[];
  keyPem?: string;
  certPem?: string;
  /** Trusted client roots (ca.crt), parsed at load. */
  ca: X509Certificate[];
  caPem?: string;
}

export interface Secret extends Base<"Secret"> {
  type: string;
  data: Record<string, string>;
  tls?: TlsMaterial;
}

// ---------- networking.istio.io ----------

export type TlsMode = "PASSTHROUGH" | "SIMPLE" | "MUTUAL" | "AUTO_PASSTHROUGH" | "ISTIO_MUTUAL" | "OPTIONAL_MUTUAL";
export type TlsVersion = "TLS_AUTO" | "TLSV1_0" | "TLSV1_1" | "TLSV1_2" | "TLSV1_3";

export interface GatewayServer {
  index: number;
  port: { number: number; name: string; protocol: Protocol; targetPort?: number };
  bind?: string;
  /** Each as written; `ns/host` splits into namespace and host. */
  hosts: { namespace: string; host: string }[];
  tls?: {
    httpsRedirect: boolean;
    mode: TlsMode;
    credentialName?: string;
    /** MUTUAL: the client certificate must carry one of these SANs (exact). */
    subjectAltNames: string[];
    /** MUTUAL: pins on the client certificate, base64 SHA-256 of its public key / hex SHA-256 of the certificate. */
    verifyCertificateSpki: string[];
    verifyCertificateHash: string[];
    minProtocolVersion: TlsVersion;
    maxProtocolVersion: TlsVersion;
    /** OpenSSL names for TLS 1.2 and below (TLS 1.3 suites are not configurable, as in Envoy). */
    cipherSuites: string[];
  };
  name?: string;
}

export interface Gateway extends Base<"Gateway"> {
  selector: Record<string, string>;
  servers: GatewayServer[];
}

export interface PortSelector {
  number?: number;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: number;
}

export interface RouteDestination {
  destination: Destination;
  weight: number;
  /** Header changes for requests sent to, and responses from, this destination only. */
  headers?: HeaderRules;
}

/** VirtualService `corsPolicy`, as Envoy's CORS filter applies it. */
export interface CorsPolicy {
  allowOrigins: StringMatch[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
  allowCredentials: boolean;
  /** What happens to a preflight from an origin not allowed: sent on to the application, or answered with no CORS headers. */
  unmatchedPreflights: "FORWARD" | "IGNORE";
}

/** VirtualService `headers`: what the routing proxy changes on the way to a destination and back. */
export interface HeaderRules {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

/** Header names are lower case. `set` overwrites, `add` appends to a present value, `remove` deletes. */
export interface HeaderOperations {
  set: Record<string, string>;
  add: Record<string, string>;
  remove: string[];
}

export interface HttpMatch {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers: Record<string, StringMatch>;
  withoutHeaders: Record<string, StringMatch>;
  queryParams: Record<string, StringMatch>;
  port?: number;
  sourceLabels: Record<string, string>;
  sourceNamespace?: string;
  gateways: string[];
  ignoreUriCase: boolean;
}

export interface HttpRoute {
  index: number;
  name?: string;
  match: HttpMatch[];
  route: RouteDestination[];
  /** `prefixRewrite` replaces the matched URI prefix (Envoy's prefix_rewrite), where `uri` replaces the whole path. */
  redirect?: { uri?: string; prefixRewrite?: string; authority?: string; scheme?: string; port?: number; redirectCode: number };
  directResponse?: { status: number; body?: string };
  rewrite?: { uri?: string; authority?: string; uriRegex?: { match: string; compiled: Re2; rewrite: string } };
  /** Header changes for every destination of the route. */
  headers?: HeaderRules;
  corsPolicy?: CorsPolicy;
  timeoutMs?: number;
  retries?: RetryPolicy;
  fault?: { abort?: { httpStatus: number; percentage: number }; delay?: { ms: number; percentage: number } };
}

/** A route's retries, with `retryOn` split into Envoy's conditions and status codes. */
export interface RetryPolicy {
  attempts: number;
  perTryTimeoutMs?: number;
  on: RetryCondition[];
  statusCodes: number[];
}

export const RETRY_CONDITIONS = [
  "5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream", "retriable-status-codes",
  "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
] as const;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

export interface TlsRoute {
  index: number;
  match: { sniHosts: string[]; port?: number; gateways: string[]; sourceLabels: Record<string, string> }[];
  route: RouteDestination[];
}

export interface TcpRoute {
  index: number;
  match: { port?: number; gateways: string[]; sourceLabels: Record<string, string>; destinationSubnets: string[] }[];
  route: RouteDestination[];
}

export interface VirtualService extends Base<"VirtualService"> {
  hosts: string[];
  /** Gateway references as written; "mesh" means the sidecars. Empty means ["mesh"]. */
  gateways: string[];
  http: HttpRoute[];
  tls: TlsRoute[];
  tcp: TcpRoute[];
  exportTo: string[];
}

export interface ClientTls {
  mode: "DISABLE" | "SIMPLE" | "MUTUAL" | "ISTIO_MUTUAL";
  credentialName?: string;
  sni?: string;
  subjectAltNames: string[];
  insecureSkipVerify: boolean;
}

/** DestinationRule outlierDetection, with Istio's defaults filled in (present only when the rule has the block). */
export interface OutlierDetection {
  /** Consecutive 5xx answers (connect failures and resets included) that eject an endpoint; 0 disables. */
  consecutive5xxErrors: number;
  /** Consecutive 502/503/504 (and connect failures) that eject; 0 disables. */
  consecutiveGatewayErrors: number;
  baseEjectionTimeMs: number;
  /** No ejection once this share of the endpoints is ejected. */
  maxEjectionPercent: number;
}

/** DestinationRule connectionPool limits zeromesh applies (unset: unlimited, as Istio's defaults). */
export interface ConnectionPool {
  maxConnections?: number;
  http1MaxPendingRequests?: number;
  http2MaxRequests?: number;
}

export interface TrafficPolicy {
  tls?: ClientTls;
  loadBalancer?: string;
  outlierDetection?: OutlierDetection;
  connectionPool?: ConnectionPool;
  portLevel: { port: number; tls?: ClientTls }[];
}

export interface DestinationRule extends Base<"DestinationRule"> {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets: { name: string; labels: Record<string, string>; trafficPolicy?: TrafficPolicy }[];
  exportTo: string[];
  workloadSelector?: Record<string, string>;
}

/** DYNAMIC_DNS: wildcard hosts resolved per request by the name asked for (Envoy's dynamic forward proxy). */
export type Resolution = "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";

export interface ServiceEntry extends Base<"ServiceEntry"> {
  hosts: string[];
  addresses: string[];
  ports: { number: number; name: string; protocol: Protocol; targetPort?: number }[];
  location: "MESH_EXTERNAL" | "MESH_INTERNAL";
  resolution: Resolution;
  endpoints: { address?: string; ports: Record<string, number>; labels: Record<string, string>; serviceAccount?: string }[];
  workloadSelector?: Record<string, string>;
  exportTo: string[];
  subjectAltNames: string[];
}

export interface SidecarEgress {
  port?: { number: number; protocol: Protocol; name?: string };
  bind?: string;
  captureMode?: string;
  /** `ns/dnsName` split; namespace is "*", "." or a name; `exclude` for a "~" prefix ("~ns/…" excludes, "~/…" excludes everywhere). */
  hosts: { namespace: string; dnsName: string; raw: string; exclude?: boolean }[];
}

export interface SidecarIngress {
  port: { number: number; protocol: Protocol; name?: string };
  bind?: string;
  defaultEndpoint?: string;
}

export interface Sidecar extends Base<"Sidecar"> {
  workloadSelector?: Record<string, string>;
  egress: SidecarEgress[];
  ingress: SidecarIngress[];
  outboundTrafficPolicy?: "ALLOW_ANY" | "REGISTRY_ONLY";
}

export interface WorkloadEntry extends Base<"WorkloadEntry"> {
  address?: string;
  ports: Record<string, number>;
  labels: Record<string, string>;
  serviceAccount: string;
  network?: string;
}

// ---------- security.istio.io ----------

export type MtlsMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

export interface PeerAuthentication extends Base<"PeerAuthentication"> {
  selector?: Record<string, string>;
  mode: MtlsMode;
  portLevel: Record<number, MtlsMode>;
}

/** A string list from an AuthorizationPolicy: values are exact, `pre*`, `*suf` or `*`. */
export type Patterns = string[];

export interface AuthzSource {
  principals?: Patterns; notPrincipals?: Patterns;
  requestPrincipals?: Patterns; notRequestPrincipals?: Patterns;
  namespaces?: Patterns; notNamespaces?: Patterns;
  ipBlocks?: string[]; notIpBlocks?: string[];
  remoteIpBlocks?: string[]; notRemoteIpBlocks?: string[];
  /** "namespace/name" of the peer's service account (a bare name is read in the policy's namespace). */
  serviceAccounts?: string[]; notServiceAccounts?: string[];
  trustDomains?: Patterns; notTrustDomains?: Patterns;
}

export interface AuthzOperation {
  hosts?: Patterns; notHosts?: Patterns;
  ports?: string[]; notPorts?: string[];
  methods?: Patterns; notMethods?: Patterns;
  paths?: Patterns; notPaths?: Patterns;
}

export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthzRule {
  index: number;
  from?: AuthzSource[];
  to?: AuthzOperation[];
  when?: AuthzCondition[];
}

export type AuthzAction = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

export interface AuthorizationPolicy extends Base<"AuthorizationPolicy"> {
  selector?: Record<string, string>;
  /** Attached by `targetRef(s)` to Gateway API resources zeromesh does not run: it applies to no workload. */
  targeted?: boolean;
  action: AuthzAction;
  provider?: string;
  /** undefined: no `rules` field at all (matches nothing). */
  rules: AuthzRule[];
  dryRun: boolean;
}

/** Where a token is read from: a header (with a prefix such as "Bearer "), a query parameter, or a cookie. */
export type JwtLocation = { header: string; prefix: string } | { param: string } | { cookie: string };

/** One RequestAuthentication `jwtRules` entry: an issuer the proxy accepts tokens from, and what it does with them. */
export interface JwtRule {
  issuer: string;
  audiences: string[];
  /** Inline JWKS (JSON text), or where to fetch it. */
  jwks?: string;
  jwksUri?: string;
  /** Where tokens are read from; Istio's default is `Authorization: Bearer` and the `access_token` parameter. */
  locations: JwtLocation[];
  forwardOriginalToken: boolean;
  outputPayloadToHeader?: string;
  outputClaimToHeaders: { header: string; claim: string }[];
  /** How long fetching `jwksUri` may take (ms). */
  timeoutMs?: number;
  /** Claims whose string value is a space-separated list when policies match them. */
  spaceDelimitedClaims: string[];
  /** `presence: REQUIRED`: a request without a token is refused (Envoy's "Jwt is missing"). */
  required: boolean;
}

export interface RequestAuthentication extends Base<"RequestAuthentication"> {
  selector?: Record<string, string>;
  /** Attached by `targetRef(s)` to Gateway API resources zeromesh does not run: it applies to no workload. */
  targeted?: boolean;
  jwtRules: JwtRule[];
}

// ---------- telemetry.istio.io ----------

/** Which side of a connection a Telemetry setting applies to (gateways count as CLIENT, as in Istio). */
export type WorkloadMode = "CLIENT" | "SERVER" | "CLIENT_AND_SERVER";

export const ISTIO_METRICS = [
  "ALL_METRICS", "REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE", "TCP_OPENED_CONNECTIONS",
  "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES", "TCP_RECEIVED_BYTES", "GRPC_REQUEST_MESSAGES", "GRPC_RESPONSE_MESSAGES",
] as const;
export type IstioMetric = (typeof ISTIO_METRICS)[number];

export interface Telemetry extends Base<"Telemetry"> {
  selector?: Record<string, string>;
  /** Attached by `targetRef(s)` to Gateway API resources zeromesh does not run: it applies to no workload. */
  targeted?: boolean;
  accessLogging: { providers: string[]; mode: WorkloadMode; disabled?: boolean }[];
  metrics: { providers: string[]; overrides: { metric: IstioMetric | "custom"; mode: WorkloadMode; disabled?: boolean }[] }[];
}

export type Resource =
  | Namespace | ServiceAccount | KubeService | WorkloadSource | Secret
  | Gateway | VirtualService | DestinationRule | ServiceEntry | Sidecar | WorkloadEntry
  | PeerAuthentication | AuthorizationPolicy | RequestAuthentication | Telemetry;

export type Kind = Resource["kind"];

export const KINDS: readonly Kind[] = [
  "Namespace", "ServiceAccount", "Service", "Pod", "Deployment", "ReplicaSet", "StatefulSet", "Secret",
  "Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "Sidecar", "WorkloadEntry",
  "PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication", "Telemetry",
];

/** Namespaced resources are keyed kind/namespace/name; Namespace has namespace "". */
export function keyOf(r: { kind: string; meta: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.meta.namespace}/${r.meta.name}`;
}
