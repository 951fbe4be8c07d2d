// Peeks at the first bytes of an inbound connection to tell mesh mTLS (a TLS
// ClientHello offering the mesh's ALPN) from plaintext or an application's
// own TLS, without consuming them. The ClientHello layout is RFC 8446 §4.1.2.

import type { Duplex } from "node:stream";
import { SNIFF_TIMEOUT_MS, peek } from "../net/peek.js";

/** What mesh clients offer in ALPN; Istio's sidecars use the same name. */
export const MESH_ALPN = "istio-peer-exchange";

export type Sniffed =
  | { kind: "need-more" }
  | { kind: "plaintext" }
  /** `invalid`: a ClientHello no TLS library accepts (RFC 8446 §4.2: one extension of a type at most); a proxy refuses it rather than route by it. */
  | { kind: "tls"; sni?: string; alpn: string[]; invalid?: string };

/**
 * Reads a stream's first bytes without consuming them: a ClientHello (with
 * its SNI and ALPN), or plaintext — also when nothing arrives within
 * SNIFF_TIMEOUT_MS, as with server-first protocols.
 */
export function sniffStream(stream: Duplex): Promise<Exclude<Sniffed, { kind: "need-more" }>> {
  // Silence is a server-first protocol; a ClientHello begun and not finished in time is no hello a proxy may route
  // by (its name may come later, or never): refused rather than passed on as plaintext.
  const silence = (buf: Buffer): Exclude<Sniffed, { kind: "need-more" }> => (buf[0] === 0x16 ? { kind: "tls", alpn: [], invalid: "a ClientHello that did not arrive in time" } : { kind: "plaintext" });
  return peek(stream, (buf, ended) => {
    const s = sniff(buf);
    return s.kind === "need-more" ? (ended ? silence(buf) : undefined) : s;
  }, { afterMs: SNIFF_TIMEOUT_MS, value: silence });
}

const MAX_HELLO = 16 * 1024 + 5;

export function sniff(buf: Buffer): Sniffed {
  if (buf.length === 0) return { kind: "need-more" };
  if (buf[0] !== 0x16) return { kind: "plaintext" };
  if (buf.length < 5) return { kind: "need-more" };
  const recordLen = buf.readUInt16BE(3);
  if (recordLen + 5 > MAX_HELLO) return { kind: "tls", alpn: [], invalid: "a TLS record larger than TLS allows" };
  if (buf.length < 5 + recordLen) return { kind: "need-more" };
  try {
    return { kind: "tls", ...parseClientHello(buf.subarray(5, 5 + recordLen)) };
  } catch (e) {
    // A ClientHello this proxy cannot read whole from the first record (split over records, or not a ClientHello at
    // all) gives no name to route or decide by: refused, never passed on without one (Envoy's tls_inspector reads
    // the whole hello; clients send it in one record).
    return { kind: "tls", alpn: [], invalid: e instanceof InvalidHello ? e.message : `a ClientHello this proxy cannot read (${(e as Error).message})` };
  }
}

class InvalidHello extends Error {}

function parseClientHello(h: Buffer): { sni?: string; alpn: string[] } {
  let o = 0;
  const need = (n: number) => {
    if (o + n > h.length) throw new Error("truncated");
  };
  need(4);
  if (h[0] !== 0x01) throw new Error("not a ClientHello");
  o = 4 + 2 + 32; // handshake header, legacy_version, random
  need(1);
  o += 1 + h[o]!; // session id
  need(2);
  o += 2 + h.readUInt16BE(o); // cipher suites
  need(1);
  o += 1 + h[o]!; // compression methods
  const out: { sni?: string; alpn: string[] } = { alpn: [] };
  if (o === h.length) return out;
  need(2);
  const end = o + 2 + h.readUInt16BE(o);
  o += 2;
  const seen = new Set<number>();
  while (o + 4 <= end) {
    const type = h.readUInt16BE(o);
    // Two server_name extensions would let a proxy route by one name while the server reads the other.
    if (seen.has(type)) throw new InvalidHello(`the ClientHello carries extension ${type} twice`);
    seen.add(type);
    const len = h.readUInt16BE(o + 2);
    const body = h.subarray(o + 4, o + 4 + len);
    o += 4 + len;
    if (type === 0 && body.length >= 5 && body[2] === 0) out.sni = body.subarray(5, 5 + body.readUInt16BE(3)).toString("latin1");
    if (type === 16 && body.length >= 2) {
      for (let p = 2; p < 2 + body.readUInt16BE(0) && p < body.length; p += 1 + body[p]!) out.alpn.push(body.subarray(p + 1, p + 1 + body[p]!).toString("latin1"));
    }
  }
  return out;
}
