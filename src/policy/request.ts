import type { X509Certificate } from "node:crypto";
import type { Workload } from "../registry/model.js";

/** What a client sends: the engine's view of one request or connection. */
export interface Request {
  scheme: "http" | "https" | "tcp";
  /** Host from the URL (lower case, no port). */
  host: string;
  port: number;
  method: string;
  /** Path with query, e.g. "/api/items?x=1". */
  path: string;
  /** Lower-cased header names. `host` defaults to the URL's authority. */
  headers: Record<string, string>;
  /** For https: the trust the client has and what it presents. */
  clientTls?: ClientTlsParams;
  /** Source address as the destination sees it (for ipBlocks/remoteIpBlocks). */
  sourceIp?: string;
}

export interface ClientTlsParams {
  /** Roots the client trusts. Empty means it trusts nothing (every server fails). */
  trust: X509Certificate[];
  /** Client certificate chain, leaf first. */
  clientCert?: X509Certificate[];
  /** Skips server verification (curl -k). */
  insecure?: boolean;
}

export type Source =
  | { kind: "workload"; workload: Workload }
  /** A client with no mesh identity, connecting to a Service port (curl --resolve). */
  | { kind: "outside"; via: { namespace: string; service: string; port: number } }
  /**
   * A process on the node itself, outside every workload and without a mesh identity: straight to a workload
   * instance's own address and port (`target`), or, without one, to where the URL's host resolves.
   */
  | { kind: "node"; address: string; target?: { workload: Workload; port: number } };

export function requestAuthority(req: Request): string {
  return req.headers["host"] ?? req.host;
}

export function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}
