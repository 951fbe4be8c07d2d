// What every TLS server in the mesh sets, whoever it serves: no renegotiation.
// A client-initiated renegotiation costs the server a handshake at the
// client's will (and Node would accept three per connection); Envoy's
// BoringSSL never renegotiates as a server.
import { constants } from "node:crypto";

export const SERVER_TLS = { secureOptions: constants.SSL_OP_NO_RENEGOTIATION } as const;
