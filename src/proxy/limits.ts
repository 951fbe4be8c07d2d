// What one client may hold of a proxy's listener: time to send its headers,
// and a share of the connections. Without these, a few thousand slow clients
// (partial headers, never finished) exhaust a gateway.

export interface ListenerLimits {
  /** Time from a request's first byte to the end of its headers (Envoy's `request_headers_timeout`); a TLS handshake gets as long. */
  headersTimeoutMs: number;
  /** Open connections per listener; beyond it new ones are reset at once (Envoy's per-listener connection limit). */
  maxConnections: number;
  /** An idle keep-alive HTTP connection, or an HTTP/2 session with nothing going on, is closed after this (pools on the other side keep theirs as long). */
  idleMs: number;
  /**
   * An HTTP/1.1 request with no bytes either way for this long is ended (Envoy's stream_idle_timeout, 5 min): a body
   * that stopped coming cannot hold its connection for ever, a slow upstream answer still has minutes.
   */
  streamIdleMs: number;
}

/**
 * HTTP/2 from one client connection (Envoy's edge guidance): at most this many streams at once (advertised in
 * SETTINGS; more wait in the client), headers of at most 60 KiB, flow-control windows of 64 KiB per stream.
 * Mesh peers get more streams at once: a gateway multiplexes many clients on one session to a sidecar.
 */
export const H2_SETTINGS = { maxHeaderListSize: 60 * 1024, initialWindowSize: 65_535 } as const;

/**
 * What one HTTP/2 connection may do, by who is on the other end. Rapid reset (CVE-2023-44487) is counted as Envoy
 * does: a stream reset within `prematureMs` of opening is premature. A client outside the mesh (or an application)
 * is closed once it has opened `minStreams` streams and more than half ended so: lower than Envoy's 500, so what its
 * resets relay upstream stays far below nghttp2's own flood limit on a shared session (1,000 at once). A mesh peer
 * carries many clients' streams on one session (a gateway's), and relays their cancellations within a budget
 * (UPSTREAM_CANCEL): it is closed only past `maxPremature` premature resets within `windowMs`, more than that
 * budget can send, so one abusive client never costs the others their shared session.
 */
export interface H2Policy {
  settings: typeof H2_SETTINGS & { maxConcurrentStreams: number };
  prematureMs: number;
  /** Edge: the ratio rule after this many streams. */
  minStreams?: number;
  /** Mesh: a count within a window. */
  maxPremature?: { count: number; windowMs: number };
}
export const H2_EDGE: H2Policy = { settings: { ...H2_SETTINGS, maxConcurrentStreams: 100 }, prematureMs: 1000, minStreams: 100 };
export const H2_MESH: H2Policy = { settings: { ...H2_SETTINGS, maxConcurrentStreams: 1000 }, prematureMs: 1000, maxPremature: { count: 1000, windowMs: 10_000 } };

/**
 * How many cancellations one upstream HTTP/2 session relays as resets (a burst, then per second), and how many
 * cancelled streams it lets finish unread at once beyond that; see h2.ts cancelUpstream.
 */
export const UPSTREAM_CANCEL = { burst: 200, perSecond: 20, maxDraining: 100 } as const;

/** A proxied TCP connection with no bytes either way for this long is closed (Envoy tcp_proxy's default idle_timeout, 1 h). */
export const TCP_IDLE_MS = 3_600_000;

export const DEFAULT_LIMITS: ListenerLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  // Far above what a workload's callers legitimately hold (pools keep at most 256 per peer), far below the
  // ~20,000 slow connections that exhausted a gateway; file descriptors (ulimit 1024–65536) are the real bound.
  maxConnections: 4096,
  idleMs: 60_000,
  streamIdleMs: 300_000,
});
