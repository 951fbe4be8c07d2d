// meshConfig: the mesh-wide settings Istio reads from its `istio` ConfigMap.
import { Reader } from "./reader.js";
import { Codes, type Issue, type Location } from "./errors.js";
import { readDuration } from "./kinds/common.js";

export type OutboundMode = "ALLOW_ANY" | "REGISTRY_ONLY";

/** meshConfig.pathNormalization.normalization (policy/path-normalization.ts applies it). */
export type PathNormalization = "NONE" | "BASE" | "MERGE_SLASHES" | "DECODE_AND_MERGE_SLASHES";
export const PATH_NORMALIZATIONS: readonly PathNormalization[] = ["NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"];

export interface ExtensionProvider {
  name: string;
  kind: "envoyExtAuthzHttp" | "envoyExtAuthzGrpc" | "envoyFileAccessLog" | "other";
  service?: string;
  port?: number;
  /** For the ext-authz kinds: how the proxy asks the authorizer and what it does with the answer. */
  authz?: ExtAuthzSettings;
}

/** meshConfig.extensionProviders[].envoyExtAuthzHttp / envoyExtAuthzGrpc, as Istio configures Envoy's ext_authz filter. */
export interface ExtAuthzSettings {
  /** How long the proxy waits for an answer (Istio's default: 600s). */
  timeoutMs: number;
  /** Let the request through when the authorizer cannot be asked (not when it denies). */
  failOpen: boolean;
  /** The status a client gets when the authorizer cannot be asked (default 403). */
  statusOnError: number;
  /** HTTP only: a prefix to the path sent to the authorizer. */
  pathPrefix?: string;
  /** HTTP only: request headers sent to the authorizer besides Envoy's own (host, method, path, content-length, authorization). */
  includeRequestHeadersInCheck: string[];
  /** HTTP only: fixed headers added to the check request. */
  includeAdditionalHeadersInCheck: Record<string, string>;
  /** HTTP only: authorizer response headers set on the upstream request when it allows. */
  headersToUpstreamOnAllow: string[];
  /** HTTP only: authorizer response headers the client gets when it denies; undefined means all of them. */
  headersToDownstreamOnDeny?: string[];
  /** HTTP only: authorizer response headers the client gets when it allows. */
  headersToDownstreamOnAllow: string[];
  /** The request body sent along, up to `maxRequestBytes`. */
  includeRequestBodyInCheck?: { maxRequestBytes: number; allowPartialMessage: boolean; packAsBytes: boolean };
}

export interface MeshConfig {
  outboundTrafficPolicy: { mode: OutboundMode };
  rootNamespace: string;
  trustDomain: string;
  accessLogFile: string;
  accessLogEncoding: "TEXT" | "JSON";
  extensionProviders: ExtensionProvider[];
  /** Providers a Telemetry uses when it names none (and, for metrics, with no Telemetry at all). */
  defaultProviders: { accessLogging: string[]; metrics: string[] };
  defaultConfig: {
    holdApplicationUntilProxyStarts: boolean;
    discoveryAddress?: string;
    /** Proxies in front of the gateways: how many X-Forwarded-For entries (from the right) a gateway trusts. */
    gatewayTopology?: { numTrustedProxies: number };
  };
  /** How every proxy normalizes request paths before routing and policy (Istio's default: BASE). */
  pathNormalization: PathNormalization;
}

export const DEFAULT_MESH: MeshConfig = Object.freeze({
  outboundTrafficPolicy: { mode: "ALLOW_ANY" },
  rootNamespace: "istio-system",
  trustDomain: "cluster.local",
  accessLogFile: "",
  accessLogEncoding: "TEXT",
  extensionProviders: [],
  // Istio's default installation reports metrics to Prometheus and writes no access log.
  defaultProviders: { accessLogging: [], metrics: ["prometheus"] },
  defaultConfig: { holdApplicationUntilProxyStarts: false },
  pathNormalization: "BASE",
}) as MeshConfig;

const KNOWN = [
  "outboundTrafficPolicy", "rootNamespace", "trustDomain", "trustDomainAliases", "accessLogFile", "accessLogEncoding",
  "accessLogFormat", "extensionProviders", "defaultConfig", "enableTracing", "defaultProviders", "enableAutoMtls",
  "defaultServiceExportTo", "defaultVirtualServiceExportTo", "defaultDestinationRuleExportTo", "ingressClass", "ingressService",
  "ingressControllerMode", "ingressSelector", "localityLbSetting", "discoverySelectors", "meshMTLS", "tlsDefaults",
  "pathNormalization",
];

/**
 * Merges a (partial) meshConfig object over `base`. Fields are Istio's; an
 * unknown field or wrong value is an issue at `at`.
 */
export function mergeMeshConfig(base: MeshConfig, raw: unknown, at: Location, issues: Issue[]): MeshConfig {
  // Strict (unknown fields refused) and proto3 JSON (an integer may be a string), as Istio reads meshConfig.
  const r = Reader.root(raw, { ...at, kind: undefined }, issues, true, true);
  r.object(KNOWN);
  const out: MeshConfig = structuredClone(base);
  const otp = r.field("outboundTrafficPolicy").object(["mode", "egressProxy"]);
  const mode = otp.field("mode").enumOf(["ALLOW_ANY", "REGISTRY_ONLY"] as const);
  if (mode) out.outboundTrafficPolicy = { mode };
  const root = r.field("rootNamespace").string();
  if (root !== undefined) out.rootNamespace = root;
  const td = r.field("trustDomain").string();
  if (td !== undefined) {
    if (!/^[a-z0-9.-]+$/.test(td)) r.field("trustDomain").error(`"${td}" is not a valid trust domain`);
    else out.trustDomain = td;
  }
  const alf = r.field("accessLogFile").string();
  if (alf !== undefined) out.accessLogFile = alf;
  const enc = r.field("accessLogEncoding").enumOf(["TEXT", "JSON"] as const);
  if (enc) out.accessLogEncoding = enc;
  const eps = r.field("extensionProviders");
  if (eps.present) {
    out.extensionProviders = eps.list().map((p) => {
      p.object();
      const name = p.field("name").string({ required: true }) ?? "";
      const kind = (["envoyExtAuthzHttp", "envoyExtAuthzGrpc", "envoyFileAccessLog"] as const).find((k) => p.field(k).present) ?? "other";
      if (kind === "envoyExtAuthzHttp" || kind === "envoyExtAuthzGrpc") return { name, kind, ...readExtAuthz(p.field(kind), kind === "envoyExtAuthzHttp") };
      const body = kind === "other" ? undefined : p.field(kind);
      return { name, kind, service: body?.field("service").string(), port: body?.field("port").port() };
    });
  }
  const pn = r.field("pathNormalization");
  if (pn.present) {
    pn.object(["normalization"]);
    // DEFAULT is Istio's name for whatever the default is: BASE.
    const n = pn.field("normalization").enumOf(["DEFAULT", ...PATH_NORMALIZATIONS] as const);
    if (n) out.pathNormalization = n === "DEFAULT" ? "BASE" : n;
  }
  const dp = r.field("defaultProviders");
  if (dp.present) {
    dp.object(["accessLogging", "metrics", "tracing"]);
    const names = (f: string) => (dp.field(f).present ? dp.field(f).list().map((n) => n.string() ?? "") : undefined);
    out.defaultProviders = { accessLogging: names("accessLogging") ?? out.defaultProviders.accessLogging, metrics: names("metrics") ?? out.defaultProviders.metrics };
  }
  const dc = r.field("defaultConfig");
  if (dc.present) {
    dc.object();
    out.defaultConfig = {
      holdApplicationUntilProxyStarts: dc.field("holdApplicationUntilProxyStarts").bool(out.defaultConfig.holdApplicationUntilProxyStarts),
      discoveryAddress: dc.field("discoveryAddress").string() ?? out.defaultConfig.discoveryAddress,
      gatewayTopology: gatewayTopology(dc.field("gatewayTopology")) ?? out.defaultConfig.gatewayTopology,
    };
  }
  return out;
}

const HTTP_ONLY = [
  "pathPrefix", "includeRequestHeadersInCheck", "includeAdditionalHeadersInCheck", "headersToUpstreamOnAllow",
  "headersToDownstreamOnDeny", "headersToDownstreamOnAllow", "includeHeadersInCheck",
];

/** An ext-authz provider, checked as Istio's validateExtensionProviderEnvoyExtAuthz{Http,Grpc} do. */
function readExtAuthz(r: Reader, http: boolean): Pick<ExtensionProvider, "service" | "port" | "authz"> {
  r.object(["service", "port", "timeout", "failOpen", "statusOnError", "includeRequestBodyInCheck", "clearRouteCache", ...(http ? HTTP_ONLY : [])]);
  const service = r.field("service").string({ required: true });
  if (service !== undefined && !/^[a-z0-9*]([-a-z0-9.*]*[a-z0-9])?(\/[a-z0-9.*-]+)?$/i.test(service)) r.field("service").error(`"${service}" is not a service host name`);
  const port = r.field("port").port({ required: true });
  const status = r.field("statusOnError").string();
  if (status !== undefined && !/^[1-5]\d\d$/.test(status)) r.field("statusOnError").error(`"${status}" is not an HTTP status code`);
  const prefix = r.field("pathPrefix").string();
  if (prefix !== undefined && !prefix.startsWith("/")) r.field("pathPrefix").error(`must start with "/", got "${prefix}"`);
  const body = r.field("includeRequestBodyInCheck").object(["maxRequestBytes", "allowPartialMessage", "packAsBytes"]);
  const headers = (f: string) => r.field(f).strings().map((h) => h.toLowerCase());
  const timeout = readDuration(r.field("timeout"));
  if (timeout !== undefined && timeout <= 0) r.field("timeout").error("must be greater than 0");
  const extra = r.field("includeAdditionalHeadersInCheck").stringMap();
  return {
    service, port,
    authz: {
      timeoutMs: timeout ?? 600_000,
      failOpen: r.field("failOpen").bool(false),
      statusOnError: status !== undefined && /^[1-5]\d\d$/.test(status) ? Number(status) : 403,
      pathPrefix: prefix,
      includeRequestHeadersInCheck: [...headers("includeRequestHeadersInCheck"), ...headers("includeHeadersInCheck")],
      includeAdditionalHeadersInCheck: Object.fromEntries(Object.entries(extra).map(([k, v]) => [k.toLowerCase(), v])),
      headersToUpstreamOnAllow: headers("headersToUpstreamOnAllow"),
      headersToDownstreamOnDeny: r.field("headersToDownstreamOnDeny").present ? headers("headersToDownstreamOnDeny") : undefined,
      headersToDownstreamOnAllow: headers("headersToDownstreamOnAllow"),
      includeRequestBodyInCheck: body.present ? {
        maxRequestBytes: body.field("maxRequestBytes").int({ min: 0 }) ?? 0,
        allowPartialMessage: body.field("allowPartialMessage").bool(false),
        packAsBytes: body.field("packAsBytes").bool(false),
      } : undefined,
    },
  };
}

/** `defaultConfig.gatewayTopology`: numTrustedProxies is a non-negative integer, as Istio validates it. */
function gatewayTopology(r: Reader): MeshConfig["defaultConfig"]["gatewayTopology"] {
  if (!r.present) return undefined;
  r.object(["numTrustedProxies", "forwardClientCertDetails", "proxyProtocol"]);
  const n = r.field("numTrustedProxies").int({ min: 0 });
  return n === undefined ? undefined : { numTrustedProxies: n };
}

export function meshConfigIssue(message: string, at: Location): Issue {
  return { code: Codes.INVALID, severity: "error", at, message };
}
