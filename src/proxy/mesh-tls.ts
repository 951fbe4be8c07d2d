// Terminates mesh mTLS: a non-listening tls.Server verifies the client against
// the mesh roots (a hand-made server TLSSocket would not), with the proxy's
// current certificate chosen per connection so rotation needs no restart.
import { accessLog } from "./apply.js";
import { SERVER_TLS } from "../net/tls-server.js";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import type { Peer } from "../policy/inbound.js";
import type { ProxyContext } from "./context.js";
import { principalOf, meshContext } from "./credentials.js";
import { spiffeOf } from "../wire/protocol.js";
import { MESH_ALPN } from "./sniff.js";

export function meshTlsServer(ctx: ProxyContext, onPeer: (tls: TLSSocket, peer: Peer) => void): TlsServer {
  const server = createTlsServer({
    ...SERVER_TLS,
    requestCert: true, rejectUnauthorized: true, ALPNProtocols: [MESH_ALPN], handshakeTimeout: ctx.limits.headersTimeoutMs,
    SNICallback: (_name, cb) => {
      const creds = ctx.credentials();
      cb(creds ? null : new Error("no workload certificate yet"), creds ? meshContext(creds) : undefined);
    },
  });
  server.on("secureConnection", (tls: TLSSocket) => {
    tls.on("error", () => tls.destroy());
    const spiffe = spiffeOf(tls.getPeerX509Certificate()?.raw);
    if (!spiffe) return void tls.destroy();
    onPeer(tls, { spiffe, principal: principalOf(spiffe) });
  });
  server.on("tlsClientError", (e, sock) => {
    accessLog(ctx, undefined, "inbound", { protocol: "tls", error: `mTLS handshake failed: ${e.message}` }, { allow: false, reason: `the peer did not present a valid certificate of this mesh (${e.message})`, code: "ZM_DENY_PEER_CERTIFICATE" });
    sock.destroy();
  });
  return server;
}
