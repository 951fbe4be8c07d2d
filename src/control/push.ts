// Per-proxy push bookkeeping: what was sent, what was acknowledged.

export type SyncStatus = "SYNCED" | "STALE" | "NOT SENT" | "REJECTED" | "DISCONNECTED";

export interface ProxyRecord {
  id: string;
  connected: boolean;
  /** Where the proxy listens per workload port, as it reported. */
  listeners: Record<string, string>;
  outbound?: string;
  /** Where the proxy serves its Prometheus stats. */
  stats?: string;
  sentVersion?: number;
  /** Digest of the configuration last sent on this stream (config-lines.ts): a push that would send the same sends nothing. */
  sentDigest?: string;
  ackedVersion?: number;
  nack?: { version: number; error: string };
  connectedAt?: string;
  /** The last certificate the CA issued to this proxy. */
  certificate?: { serial: string; notBefore: string; notAfter: string; spiffe: string };
}

export function syncStatus(p: ProxyRecord): SyncStatus {
  // What a proxy whose stream is gone acknowledged says nothing about what it enforces now: it may have died.
  if (!p.connected) return "DISCONNECTED";
  if (p.sentVersion === undefined) return "NOT SENT";
  if (p.nack && p.nack.version === p.sentVersion) return "REJECTED";
  return p.ackedVersion === p.sentVersion ? "SYNCED" : "STALE";
}
