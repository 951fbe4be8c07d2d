import { checkHost } from "../host.js";
import type { Reader } from "../reader.js";
import type { ClientTls, ConnectionPool, DestinationRule, Origin, OutlierDetection, TrafficPolicy } from "../types.js";
import { readDuration, readMsDuration } from "./common.js";
import { readExportTo, readMeta, readSelector } from "./meta.js";

const CLIENT_TLS_MODES = ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] as const;

export function readDestinationRule(doc: Reader, origin: Origin): DestinationRule {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["host", "trafficPolicy", "subsets", "exportTo", "workloadSelector"]);
  const hostR = spec.field("host");
  const host = hostR.string({ required: true }) ?? "";
  const hostErr = hostR.present ? checkHost(host) : undefined;
  if (hostErr) hostR.error(hostErr);
  const subsets = spec.field("subsets").list().map((s) => {
    s.object(["name", "labels", "trafficPolicy"]);
    const name = s.field("name").string({ required: true }) ?? "";
    if (s.field("name").present && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) s.field("name").error(`subset name "${name}" is not a valid DNS label`);
    return { name, labels: readSelector(s.field("labels")) ?? {}, trafficPolicy: readTrafficPolicy(s.field("trafficPolicy")) };
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

/** consistentHash (read, not applied: the proxies balance by `simple`), checked as validateLoadBalancer does. */
function checkConsistentHash(c: Reader): void {
  if (!c.present) return;
  c.object();
  const cookie = c.field("httpCookie").object();
  if (cookie.present && !cookie.field("name").string()) cookie.field("name").error("name required for HttpCookie");
  const names = new Set<string>();
  cookie.field("attributes").list().forEach((a) => {
    const n = a.object().field("name").string() ?? "";
    if (!n) a.field("name").error("cookie attribute name cannot be empty");
    else if (names.has(n)) a.field("name").error(`duplicate cookie attribute name: ${n}`);
    names.add(n);
  });
  const ring = c.field("minimumRingSize").int({ min: 0 }) ?? 0;
  if (ring && (c.field("maglev").present || c.field("ringHash").present)) c.error("only one of MinimumRingSize or Maglev/Ringhash can be specified");
  const maglev = c.field("maglev").object();
  if (maglev.present) {
    const size = maglev.field("tableSize").int({ min: 0 }) ?? 0;
    if (!size) maglev.field("tableSize").error("tableSize must be set for maglev");
    else if (size >= 5000011) maglev.field("tableSize").error("tableSize must be less than 5000011 for maglev");
    else if (!isPrime(size)) maglev.field("tableSize").error("tableSize must be a prime number for maglev");
  }
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let i = 2; i * i <= n; i++) if (n % i === 0) return false;
  return true;
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
  if (r.present && !r.keys().length) r.error("traffic policy must have at least one field");
  const lb = r.field("loadBalancer").object(["simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup", "zoneAwareLbSetting"]);
  readWarmup(lb.field("warmup"));
  checkConsistentHash(lb.field("consistentHash"));
  if (lb.field("localityLbSetting").present && lb.field("zoneAwareLbSetting").present) lb.error("only one of localityLbSetting and zoneAwareLbSetting can be set");
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

/** The limits that make circuit breaking; the other settings are read and checked as Istio's validateConnectionPool does, not applied. */
export function readConnectionPool(c: Reader): ConnectionPool | undefined {
  if (!c.present) return undefined;
  c.object(["tcp", "http"]);
  if (!c.field("tcp").present && !c.field("http").present) c.error("connection pool must have at least one field");
  const tcp = c.field("tcp").object(["maxConnections", "connectTimeout", "tcpKeepalive", "maxConnectionDuration", "idleTimeout"]);
  const http = c.field("http").object(["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "idleTimeout", "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams", "http2KeepAlive"]);
  for (const f of ["maxRequestsPerConnection", "maxRetries", "maxConcurrentStreams"]) http.field(f).int({ min: 0 });
  readMsDuration(http.field("idleTimeout"));
  const upgrade = http.field("h2UpgradePolicy").enumOf(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] as const);
  if (upgrade === "UPGRADE" && http.field("useClientProtocol").bool(false)) http.error("use client protocol must not be true when H2UpgradePolicy is UPGRADE");
  const ka = http.field("http2KeepAlive").object(["time", "interval", "timeout"]);
  if (ka.present) {
    for (const f of ["interval", "timeout"]) {
      if (!ka.field(f).present) ka.field(f).error(`http2 keepalive ${f} is required`);
      else readMsDuration(ka.field(f));
    }
  }
  readMsDuration(tcp.field("connectTimeout"));
  readMsDuration(tcp.field("maxConnectionDuration"));
  // An idle timeout of 0 turns it off.
  if (readDuration(tcp.field("idleTimeout")) !== 0) readMsDuration(tcp.field("idleTimeout"));
  const tka = tcp.field("tcpKeepalive").object(["probes", "time", "interval"]);
  readMsDuration(tka.field("time"));
  readMsDuration(tka.field("interval"));
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
  // validateOutlierDetection: ms-precise durations, percents 0–100, local-origin failures only when split from external ones.
  if (!o.field("splitExternalLocalOriginErrors").bool(false) && (o.field("consecutiveLocalOriginFailures").int({ min: 0 }) ?? 0) > 0) {
    o.field("consecutiveLocalOriginFailures").error("consecutive local origin errors is set but split local origin errors is not set");
  }
  readMsDuration(o.field("interval"));
  o.field("minHealthPercent").int({ min: 0, max: 100 });
  return {
    consecutive5xxErrors: o.field("consecutive5xxErrors").int({ min: 0 }) ?? o.field("consecutiveErrors").int({ min: 0 }) ?? 5,
    consecutiveGatewayErrors: o.field("consecutiveGatewayErrors").int({ min: 0 }) ?? 0,
    baseEjectionTimeMs: readMsDuration(o.field("baseEjectionTime")) ?? 30_000,
    maxEjectionPercent: o.field("maxEjectionPercent").int({ min: 0, max: 100 }) ?? 10,
  };
}

/** Istio's ValidateTLS: what each mode may carry. */
function checkClientTls(t: Reader): void {
  const mode = t.field("mode").string();
  const has = (f: string) => t.field(f).present && t.field(f).value !== "";
  if (t.field("insecureSkipVerify").value === true) {
    if (mode === "SIMPLE" && (has("caCertificates") || has("credentialName") || t.field("subjectAltNames").present)) t.error("cannot specify caCertificates or credentialName or subjectAltNames when insecureSkipVerify is set true");
    if (mode === "MUTUAL" && (has("caCertificates") || t.field("subjectAltNames").present)) t.error("cannot specify caCertificates or subjectAltNames when insecureSkipVerify is set true");
  }
  if ((mode === "SIMPLE" || mode === "MUTUAL") && has("credentialName")) {
    if (has("clientCertificate") || has("caCertificates") || has("privateKey") || has("caCrl")) t.error("cannot specify client certificates or CA certificate or CA CRL if credentialName is set");
  } else if (mode === "MUTUAL") {
    if (!has("clientCertificate")) t.field("clientCertificate").error("client certificate required for mutual tls");
    if (!has("privateKey")) t.field("privateKey").error("private key required for mutual tls");
  }
}

function readClientTls(t: Reader): ClientTls | undefined {
  if (!t.present) return undefined;
  t.object(["mode", "clientCertificate", "privateKey", "caCertificates", "credentialName", "subjectAltNames", "sni", "insecureSkipVerify", "caCrl"]);
  checkClientTls(t);
  return {
    mode: t.field("mode").enumOf(CLIENT_TLS_MODES, "DISABLE")!,
    credentialName: t.field("credentialName").string(),
    sni: t.field("sni").string(),
    subjectAltNames: t.field("subjectAltNames").strings(),
    insecureSkipVerify: t.field("insecureSkipVerify").bool(),
  };
}
