import { checkHost } from "../host.js";
import type { Reader } from "../reader.js";
import type { ClientTls, ConnectionPool, DestinationRule, Origin, OutlierDetection, TrafficPolicy } from "../types.js";
import { readDuration } from "./common.js";
import { readExportTo, readMeta } from "./meta.js";

const CLIENT_TLS_MODES = ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] as const;

export function readDestinationRule(doc: Reader, origin: Origin): DestinationRule {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["host", "trafficPolicy", "subsets", "exportTo", "workloadSelector"]);
  const hostR = spec.field("host");
  const host = hostR.string({ required: true }) ?? "";
  if (host) {
    const err = checkHost(host);
    if (err) hostR.error(err);
  }
  const subsets = spec.field("subsets").list().map((s) => {
    s.object(["name", "labels", "trafficPolicy"]);
    return { name: s.field("name").string({ required: true }) ?? "", labels: s.field("labels").stringMap(), trafficPolicy: readTrafficPolicy(s.field("trafficPolicy")) };
  });
  const seen = new Set<string>();
  subsets.forEach((s, i) => {
    if (seen.has(s.name)) spec.field("subsets").error(`duplicate subset name "${s.name}"`, `${spec.path}.subsets[${i}].name`);
    seen.add(s.name);
  });
  const ws = spec.field("workloadSelector").object(["matchLabels"]);
  return {
    kind: "DestinationRule", meta, origin, host, subsets,
    trafficPolicy: readTrafficPolicy(spec.field("trafficPolicy")),
    exportTo: readExportTo(spec.field("exportTo")),
    workloadSelector: ws.present ? ws.field("matchLabels").stringMap() : undefined,
  };
}

/** loadBalancer.warmup, checked as the CRD does: a duration is required, minimumPercent is 0–100, aggression at least 1. */
function readWarmup(w: Reader): void {
  if (!w.present) return;
  w.object(["duration", "minimumPercent", "aggression"]);
  if (!w.field("duration").present) w.field("duration").error("is required");
  else readDuration(w.field("duration"));
  w.field("minimumPercent").number({ min: 0, max: 100 });
  w.field("aggression").number({ min: 1 });
}

function readTrafficPolicy(r: Reader): TrafficPolicy | undefined {
  if (!r.present) return undefined;
  r.object(["loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget"]);
  const lb = r.field("loadBalancer").object(["simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup"]);
  readWarmup(lb.field("warmup"));
  return {
    tls: readClientTls(r.field("tls")),
    loadBalancer: lb.field("simple").enumOf(["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"] as const),
    outlierDetection: readOutlierDetection(r.field("outlierDetection")),
    connectionPool: readConnectionPool(r.field("connectionPool")),
    portLevel: r.field("portLevelSettings").list().map((p) => ({
      port: p.field("port").object(["number"]).field("number").port({ required: true }) ?? 0,
      tls: readClientTls(p.field("tls")),
    })),
  };
}

/** The limits that make circuit breaking; the other settings are read (and checked) but not applied. */
export function readConnectionPool(c: Reader): ConnectionPool | undefined {
  if (!c.present) return undefined;
  c.object(["tcp", "http"]);
  if (!c.field("tcp").present && !c.field("http").present) c.error("connection pool must have at least one field");
  const tcp = c.field("tcp").object(["maxConnections", "connectTimeout", "tcpKeepalive", "maxConnectionDuration", "idleTimeout"]);
  const http = c.field("http").object(["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "idleTimeout", "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams", "http2KeepAlive"]);
  return {
    // 0 is Istio's "not set".
    maxConnections: tcp.field("maxConnections").int({ min: 0 }) || undefined,
    http1MaxPendingRequests: http.field("http1MaxPendingRequests").int({ min: 0 }) || undefined,
    http2MaxRequests: http.field("http2MaxRequests").int({ min: 0 }) || undefined,
  };
}

/** Istio's defaults: 5 consecutive 5xx, gateway errors off, 30 s base ejection, at most 10% ejected. */
function readOutlierDetection(o: Reader): OutlierDetection | undefined {
  if (!o.present) return undefined;
  o.object(["splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures", "consecutiveGatewayErrors", "consecutive5xxErrors", "consecutiveErrors", "interval", "baseEjectionTime", "maxEjectionPercent", "minHealthPercent"]);
  return {
    consecutive5xxErrors: o.field("consecutive5xxErrors").int({ min: 0 }) ?? o.field("consecutiveErrors").int({ min: 0 }) ?? 5,
    consecutiveGatewayErrors: o.field("consecutiveGatewayErrors").int({ min: 0 }) ?? 0,
    baseEjectionTimeMs: readDuration(o.field("baseEjectionTime")) ?? 30_000,
    maxEjectionPercent: o.field("maxEjectionPercent").int({ min: 0, max: 100 }) ?? 10,
  };
}

function readClientTls(t: Reader): ClientTls | undefined {
  if (!t.present) return undefined;
  t.object(["mode", "clientCertificate", "privateKey", "caCertificates", "credentialName", "subjectAltNames", "sni", "insecureSkipVerify", "caCrl"]);
  return {
    mode: t.field("mode").enumOf(CLIENT_TLS_MODES, "DISABLE")!,
    credentialName: t.field("credentialName").string(),
    sni: t.field("sni").string(),
    subjectAltNames: t.field("subjectAltNames").strings(),
    insecureSkipVerify: t.field("insecureSkipVerify").bool(),
  };
}
