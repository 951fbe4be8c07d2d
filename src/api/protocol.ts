import type { Protocol } from "./types.js";

const BY_PREFIX: Record<string, Protocol> = {
  http: "HTTP", http2: "HTTP2", grpc: "GRPC", "grpc-web": "GRPC", https: "HTTPS", tls: "TLS",
  tcp: "TCP", mongo: "MONGO", redis: "REDIS", mysql: "MYSQL", udp: "UDP",
};

export const PROTOCOLS: readonly Protocol[] = ["HTTP", "HTTP2", "GRPC", "HTTPS", "TLS", "TCP", "MONGO", "REDIS", "MYSQL", "UDP"];

/**
 * Istio's protocol selection for a Kubernetes port: appProtocol first, then
 * the name's `<protocol>[-<suffix>]` prefix, else automatic detection.
 */
export function selectProtocol(name: string | undefined, appProtocol: string | undefined, l4?: string): Protocol {
  if (l4?.toUpperCase() === "UDP") return "UDP";
  if (appProtocol) {
    const p = BY_PREFIX[appProtocol.toLowerCase()] ?? (appProtocol.toLowerCase() === "kubernetes.io/h2c" ? "HTTP2" : undefined);
    if (p) return p;
  }
  if (name) {
    const lower = name.toLowerCase();
    if (BY_PREFIX[lower]) return BY_PREFIX[lower]!;
    const dash = lower.indexOf("-");
    if (dash > 0 && BY_PREFIX[lower.slice(0, dash)]) return BY_PREFIX[lower.slice(0, dash)]!;
    // "grpc-web" has a dash of its own.
    if (lower.startsWith("grpc-web")) return "GRPC";
  }
  return "AUTO";
}

/** Traffic on this protocol is parsed as HTTP by the proxies. */
export function isHttp(p: Protocol): boolean {
  return p === "HTTP" || p === "HTTP2" || p === "GRPC";
}

/** Unnamed ports are auto-detected; an HTTP client on them is served as HTTP. */
export function isHttpOrAuto(p: Protocol): boolean {
  return isHttp(p) || p === "AUTO";
}

export function isTlsProtocol(p: Protocol): boolean {
  return p === "HTTPS" || p === "TLS";
}
