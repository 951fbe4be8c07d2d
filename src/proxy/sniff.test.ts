import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { MESH_ALPN, sniff, sniffStream } from "./sniff.js";

/** Captures the first bytes a real client sends. */
async function firstBytes(start: (port: number) => void): Promise<Buffer> {
  return new Promise((resolve) => {
    const srv = createServer((s: Socket) => {
      let buf = Buffer.alloc(0);
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        if (sniff(buf).kind !== "need-more") {
          s.destroy();
          srv.close();
          resolve(buf);
        }
      });
    });
    srv.listen(0, "127.0.0.1", () => start((srv.address() as { port: number }).port));
  });
}

test("sniff: a real TLS ClientHello yields SNI and ALPN; plaintext is plaintext", async () => {
  const mesh = await firstBytes((port) => tlsConnect({ port, host: "127.0.0.1", servername: "outbound_.8080_._.web.b.svc.cluster.local", ALPNProtocols: [MESH_ALPN, "h2"] }).on("error", () => {}));
  assert.deepEqual(sniff(mesh), { kind: "tls", sni: "outbound_.8080_._.web.b.svc.cluster.local", alpn: [MESH_ALPN, "h2"] });
  const app = await firstBytes((port) => tlsConnect({ port, host: "127.0.0.1", servername: "api.example.com" }).on("error", () => {}));
  assert.deepEqual(sniff(app), { kind: "tls", sni: "api.example.com", alpn: [] });
  const plain = await firstBytes((port) => netConnect(port, "127.0.0.1", function (this: Socket) { this.write("GET / HTTP/1.1\r\n\r\n"); }).on("error", () => {}));
  assert.deepEqual(sniff(plain), { kind: "plaintext" });
});

test("sniff: partial records ask for more; what is not one readable ClientHello is invalid, never routed", async () => {
  assert.deepEqual(sniff(Buffer.from([0x16, 0x03])), { kind: "need-more" });
  assert.deepEqual(sniff(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10, 1, 2])), { kind: "need-more" });
  assert.equal(sniff(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x02, 0x09, 0x09])).kind === "tls" && (sniff(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x02, 0x09, 0x09])) as { invalid?: string }).invalid !== undefined, true);
  assert.deepEqual(sniff(Buffer.alloc(0)), { kind: "need-more" });
  // A real ClientHello split over two records: its name would be in the second, which a proxy routing by the first never reads.
  const hello = await firstBytes((port) => tlsConnect({ port, host: "127.0.0.1", servername: "api.example.com" }).on("error", () => {}));
  const body = hello.subarray(5);
  const half = Math.floor(body.length / 2);
  const record = (b: Buffer) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, b.length >> 8, b.length & 255]), b]);
  const split = Buffer.concat([record(body.subarray(0, half)), record(body.subarray(half))]);
  assert.match((sniff(split) as { invalid?: string }).invalid ?? "", /cannot read/);
});

test("sniffStream: a ClientHello begun and not finished in time is invalid; silence is plaintext (server-first protocols)", async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  const classify = (first: Buffer) => new Promise<unknown>((resolve) => {
    srv.once("connection", (s: Socket) => void sniffStream(s).then((v) => (resolve(v), s.destroy())));
    const c = netConnect(port, "127.0.0.1", () => first.length && c.write(first));
    c.on("error", () => {});
  });
  assert.deepEqual(await classify(Buffer.alloc(0)), { kind: "plaintext" });
  assert.match(((await classify(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01]))) as { invalid?: string }).invalid ?? "", /did not arrive in time/);
  srv.close();
});

test("sniff: a record longer than TLS allows is invalid at once; a handshake message that is no ClientHello is invalid", async () => {
  // 0xFFFF bytes announced: more than a TLS record may hold, refused from its header alone.
  const huge = sniff(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01]));
  assert.equal(huge.kind, "tls");
  assert.match((huge as { invalid?: string }).invalid ?? "", /larger than TLS allows/);
  // A real ClientHello with its handshake type changed to ServerHello (2): the same bytes, never routed by.
  const hello = await firstBytes((port) => tlsConnect({ port, host: "127.0.0.1", servername: "api.example.com" }).on("error", () => {}));
  assert.deepEqual(sniff(hello), { kind: "tls", sni: "api.example.com", alpn: [] });
  const notHello = Buffer.from(hello);
  notHello[5] = 0x02;
  const s = sniff(notHello);
  assert.equal(s.kind, "tls");
  assert.ok((s as { invalid?: string }).invalid, "invalid");
  assert.equal((s as { sni?: string }).sni, undefined);
});

/** A ClientHello record built by hand: extensions as given (none at all when `extensions` is undefined). */
function clientHello(extensions?: [number, Buffer][]): Buffer {
  const fixed = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([0]), Buffer.from([0, 2, 0x13, 0x01]), Buffer.from([1, 0])]);
  const exts = extensions === undefined ? Buffer.alloc(0) : (() => {
    const all = Buffer.concat(extensions.map(([type, data]) => Buffer.concat([u16(type), u16(data.length), data])));
    return Buffer.concat([u16(all.length), all]);
  })();
  const body = Buffer.concat([fixed, exts]);
  const handshake = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(handshake.length), handshake]);
}
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const serverName = (name: string, nameType = 0) => {
  const n = Buffer.from(name, "latin1");
  return Buffer.concat([u16(n.length + 3), Buffer.from([nameType]), u16(n.length), n]);
};
const alpnList = (protocols: string[], claimed?: number) => {
  const list = Buffer.concat(protocols.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])));
  return Buffer.concat([u16(claimed ?? list.length), list]);
};
const invalid = (s: ReturnType<typeof sniff>) => (s as { invalid?: string }).invalid;

test("sniff: hand-built ClientHellos at the parser's edges", () => {
  // Built right, it reads as a real one does.
  assert.deepEqual(sniff(clientHello([[0, serverName("a.example")], [16, alpnList(["h2", "http/1.1"])]])), { kind: "tls", sni: "a.example", alpn: ["h2", "http/1.1"] });
  // No extensions at all (a legal, old-style hello): no name, not an error.
  assert.deepEqual(sniff(clientHello()), { kind: "tls", alpn: [] });
  // The name as the last extension is read.
  assert.equal((sniff(clientHello([[16, alpnList(["h2"])], [0, serverName("last.example")]])) as { sni?: string }).sni, "last.example");
  // An empty extension repeated at the very end is still a repeat.
  assert.match(invalid(sniff(clientHello([[0, serverName("a.example")], [23, Buffer.alloc(0)], [23, Buffer.alloc(0)]]))) ?? "", /extension 23 twice/);
  // A server_name of another name type is no host name; an empty host name is one, empty.
  assert.equal((sniff(clientHello([[0, serverName("x", 1)]])) as { sni?: string }).sni, undefined);
  assert.equal((sniff(clientHello([[0, serverName("")]])) as { sni?: string }).sni, "");
  // ALPN: an empty extension body names nothing; a list that claims more than it holds is read as far as it goes.
  assert.deepEqual(sniff(clientHello([[16, Buffer.alloc(0)]])), { kind: "tls", alpn: [] });
  assert.deepEqual((sniff(clientHello([[16, alpnList(["h2"], 10)]])) as { alpn: string[] }).alpn, ["h2"]);
  // ...and one that claims less than it holds is read only as far as it claims.
  assert.deepEqual((sniff(clientHello([[16, alpnList(["h2", "x1"], 3)]])) as { alpn: string[] }).alpn, ["h2"]);
  // An empty extension list, and a server_name too short to hold a name: valid, nameless.
  assert.deepEqual(sniff(clientHello([])), { kind: "tls", alpn: [] });
  assert.deepEqual(sniff(clientHello([[0, Buffer.from([0, 1, 0])]])), { kind: "tls", alpn: [] });
});

test("sniff: a record of exactly TLS's maximum (16 KiB) is read; one byte more is refused from its header", () => {
  const sized = (recordLength: number) => {
    const base = clientHello([[0, serverName("big.example")], [21, Buffer.alloc(0)]]);
    // Grow the padding extension (21) until the record is the size asked for.
    return clientHello([[0, serverName("big.example")], [21, Buffer.alloc(recordLength - (base.length - 5))]]);
  };
  const max = sized(16 * 1024);
  assert.equal(max.readUInt16BE(3), 16 * 1024);
  assert.deepEqual(sniff(max), { kind: "tls", sni: "big.example", alpn: [] });
  const over = sized(16 * 1024 + 1);
  assert.equal(over.readUInt16BE(3), 16 * 1024 + 1);
  assert.match(invalid(sniff(over.subarray(0, 5))) ?? "", /larger than TLS allows/);
});
