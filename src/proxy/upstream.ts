// Opening the next hop: mutual TLS to another proxy (verifying that it runs
// as one of the identities the destination service runs as), or plaintext.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { meshContext, type Credentials } from "./credentials.js";
import { spiffeOf } from "../wire/protocol.js";
import { MESH_ALPN } from "./sniff.js";
import { bindFrom } from "./source-address.js";

export interface HopTarget {
  host: string;
  port: number;
  mtls: boolean;
  identities: string[];
  /** For SNI toward the peer: Istio's `outbound_.PORT_._.HOST` form. */
  serviceHost?: string;
  servicePort: number;
}

/**
 * A hop's own fields, copied (at another address `at` of the same destination, when given): what a pool or session
 * keeps to open its connections later, or where a retry goes. The target a request was relayed with also names the
 * configuration it was decided on, which a long-lived pool must not hold on to.
 */
export function hopOnly(t: HopTarget, at: { host: string; port: number } = t): HopTarget {
  return { host: at.host, port: at.port, mtls: t.mtls, identities: t.identities, serviceHost: t.serviceHost, servicePort: t.servicePort };
}

export class HopError extends Error {
  constructor(message: string, readonly kind: "refused" | "identity" | "tls" | "timeout") {
    super(message);
  }
}

const PEER_IDENTITY = "ZM_PEER_IDENTITY";

/**
 * TLS options for a mesh hop, for a single connection or a keep-alive agent:
 * the workload certificate, the mesh roots, the mesh ALPN, Istio's SNI form,
 * and a peer check by SPIFFE identity (not DNS name): the peer must be one
 * of the identities the destination runs as.
 */
export function meshClientTls(t: HopTarget, creds: Credentials) {
  return {
    secureContext: meshContext(creds),
    ALPNProtocols: [MESH_ALPN], servername: `outbound_.${t.servicePort}_._.${t.serviceHost ?? "unknown"}`,
    checkServerIdentity: (_host: string, cert: { raw: Buffer }) => {
      const peer = spiffeOf(cert.raw);
      if (peer && (!t.identities.length || t.identities.includes(peer))) return undefined;
      return Object.assign(new Error(`peer is ${peer ?? "no SPIFFE identity"}, expected one of ${t.identities.join(", ")}`), { code: PEER_IDENTITY });
    },
  };
}

/** Opens one connection to the hop, from `localAddress` (the workload's own address) when given. */
export function openHop(t: HopTarget, creds: Credentials | undefined, localAddress?: string, timeoutMs = 10_000): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    const fail = (e: HopError) => {
      sock.destroy();
      reject(e);
    };
    let sock: Socket | TLSSocket;
    if (t.mtls) {
      if (!creds) return reject(new HopError("no workload certificate yet", "tls"));
      sock = tlsConnect({ host: t.host, port: t.port, ...bindFrom(localAddress, t.host), ...meshClientTls(t, creds) });
      sock.once("secureConnect", () => {
        sock.setTimeout(0);
        resolve(sock);
      });
    } else {
      sock = netConnect({ port: t.port, host: t.host, ...bindFrom(localAddress, t.host) }, () => {
        sock.setTimeout(0);
        resolve(sock);
      });
    }
    sock.setTimeout(timeoutMs, () => fail(new HopError(`connecting to ${t.host}:${t.port} timed out`, "timeout")));
    sock.once("error", (e: NodeJS.ErrnoException) => {
      const kind = e.code === PEER_IDENTITY ? "identity" : e.code === "ECONNREFUSED" ? "refused" : t.mtls ? "tls" : "refused";
      reject(new HopError(`${t.host}:${t.port}: ${e.message}`, kind));
    });
  });
}
