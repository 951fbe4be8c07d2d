// Ending a TLS session with a fatal alert after its handshake. Node's TLS
// server judges a client certificate only once the handshake is done (its
// OpenSSL verify callback accepts everything) and has no call to send an
// alert, so a gateway that turns a client away writes the alert record
// itself, in the clear, on the stream under the TLS session (RFC 8446 §6).
// The client fails at its first read with a TLS error, as Envoy's alert
// would fail it, rather than seeing an ordinary close: measured with
// OpenSSL clients, TLS 1.2 reads it as the alert itself, TLS 1.3 as a record
// that should have been protected (bad record type).
import type { Duplex } from "node:stream";

/** bad_certificate: one description for every rejection (only TLS 1.2 clients can read it). */
const BAD_CERTIFICATE = 42;
/** Long enough for the client to read the alert and close its side first. */
const LINGER_MS = 1000;

export function endWithAlert(under: Duplex): void {
  under.end(Buffer.from([21, 0x03, 0x03, 0x00, 0x02, 2, BAD_CERTIFICATE])); // alert record: TLS 1.2 framing, fatal, bad_certificate
  setTimeout(() => under.destroy(), LINGER_MS).unref();
}
