// HTTP/2 frames as bytes, for attacks no HTTP/2 library will send (Node's client refuses header values with CR or
// LF, and upper-case names): HPACK literals without Huffman coding or indexing, so any byte can be put in a field.
import { connect } from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const;

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByte = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

const hpackString = (s: string) => {
  const bytes = Buffer.from(s, "latin1");
  return Buffer.concat([hpackInt(bytes.length, 7), bytes]);
};

/** A header block of literal fields without indexing (new names), byte for byte as given. */
export function headerBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]));
}

/** The client's preface, empty SETTINGS, and one request (HEADERS with END_STREAM and END_HEADERS) on stream 1. */
export function h2Request(fields: [string, string][]): Buffer {
  return Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0), frame(FrameType.HEADERS, 0x5, 1, headerBlock(fields))]);
}

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** The frames in `bytes` (a server's whole answer); a partial frame at the end is left out. */
export function parseFrames(bytes: Buffer): Frame[] {
  const out: Frame[] = [];
  for (let at = 0; at + 9 <= bytes.length; ) {
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) break;
    out.push({ type: bytes[at + 3]!, flags: bytes[at + 4]!, stream: bytes.readUInt32BE(at + 5) & 0x7fffffff, payload: bytes.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  return out;
}

/** What happened to stream 1: a response (HEADERS), a reset or GOAWAY with its error code, or nothing. */
export function fateOfStream1(frames: Frame[]): { kind: "response" } | { kind: "reset" | "goaway"; code: number } | { kind: "none" } {
  for (const f of frames) {
    if (f.stream === 1 && f.type === FrameType.HEADERS) return { kind: "response" };
    if (f.stream === 1 && f.type === FrameType.RST_STREAM) return { kind: "reset", code: f.payload.readUInt32BE(0) };
    if (f.type === FrameType.GOAWAY) return { kind: "goaway", code: f.payload.readUInt32BE(4) };
  }
  return { kind: "none" };
}

/** HPACK's static table entries 8–14 (":status" with a value): the form servers answer common statuses in. */
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
/** Huffman codes of the digits (RFC 7541 Appendix B): all a status needs. */
const DIGIT_CODES: [string, string][] = [["00000", "0"], ["00001", "1"], ["00010", "2"], ["011001", "3"], ["011010", "4"], ["011011", "5"], ["011100", "6"], ["011101", "7"], ["011110", "8"], ["011111", "9"]];

function huffmanDigits(bytes: Buffer): string {
  let bits = [...bytes].map((b) => b.toString(2).padStart(8, "0")).join("");
  let out = "";
  for (;;) {
    const hit = DIGIT_CODES.find(([code]) => bits.startsWith(code));
    if (!hit) return out; // the rest is EOS padding (all ones)
    out += hit[1];
    bits = bits.slice(hit[0].length);
  }
}

/**
 * The status of a response's HEADERS frame when ":status" comes first, as servers send it: indexed from the static
 * table (200, 204, 206, 304, 400, 404, 500), or a literal with the static name (plain or Huffman-coded digits).
 */
export function responseStatus(f: Frame): number | undefined {
  let at = 0;
  if (f.flags & 0x8) at += 1; // PADDED: pad length
  if (f.flags & 0x20) at += 5; // PRIORITY
  const first = f.payload[at] ?? 0;
  if (first & 0x80) return STATIC_STATUS[first & 0x7f];
  const nameIndex = first & 0x40 ? first & 0x3f : first & 0x0f;
  if (nameIndex < 8 || nameIndex > 14) return undefined;
  const len = f.payload[at + 1]! & 0x7f;
  const value = f.payload.subarray(at + 2, at + 2 + len);
  return Number(f.payload[at + 1]! & 0x80 ? huffmanDigits(value) : value.toString("latin1")) || undefined;
}

/** Sends raw HTTP/2 bytes and collects the frames that come back until stream 1's fate is known, the peer closes, or `limitMs`. */
export function exchangeFrames(at: { host: string; port: number }, bytes: Buffer, limitMs = 5000): Promise<Frame[]> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(at.port, at.host, () => socket.write(bytes));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseFrames(Buffer.concat(chunks)));
    };
    const timer = setTimeout(done, limitMs);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      if (fateOfStream1(parseFrames(Buffer.concat(chunks))).kind !== "none") done();
    });
    socket.on("error", () => {});
    socket.on("close", done);
  });
}
