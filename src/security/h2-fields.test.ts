// CR, LF and NUL in HTTP/2 fields, upper-case names and CRLF in pseudo-headers, sent as raw HPACK (no HTTP/2
// library sends them) to a gateway and to a sidecar's inbound port. RFC 9113 §8.2.1 makes such a request
// malformed. A bad pseudo-header or name case resets the stream; a regular field with CR, LF or NUL in it is
// dropped by nghttp2 before any code of ours sees it (Envoy resets the stream instead). Either way the
// application (which hears HTTP/2 as h2c) never sees the field, let alone a header the client smuggled in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http2";
import { gatewayYaml, meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";
import { listen } from "../testing/net.js";
import { FrameType, exchangeFrames, fateOfStream1, h2Request, responseStatus } from "../testing/h2-raw.js";

const YAML = meshYaml([{ ns: "edge", name: "unused" }, { ns: "b", name: "web", port: 8080 }]) +
  gatewayYaml("edge", "gw", 8086, '[{port: {number: 8086, name: http, protocol: HTTP}, hosts: ["*"]}]') + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: edge}
spec: {hosts: [web.example.com], gateways: [gw], http: [{route: [{destination: {host: web.b.svc.cluster.local, port: {number: 8080}}}]}]}
`;

const request = (path: string, authority: string, extra: [string, string][] = []): [string, string][] =>
  [[":method", "GET"], [":scheme", "http"], [":path", path], [":authority", authority], ...extra];

test("HTTP/2 fields with CR, LF or NUL, upper-case names and CRLF in pseudo-headers are refused at a gateway and a sidecar; the application never sees them", { timeout: 60_000 }, async () => {
  const seen: { url: string; headers: string[] }[] = [];
  const app = createServer((q, s) => {
    seen.push({ url: q.url ?? "", headers: q.rawHeaders });
    s.end("ok");
  });
  const port = await listen(app);
  const m = await startMesh({ yaml: YAML, proxies: { "edge/gw": undefined, "b/web": { host: "127.0.0.1", port } } });
  try {
    const targets = { gateway: m.listener("edge/gw", 8086), "sidecar inbound": m.listener("b/web", 8080) };
    for (const [where, at] of Object.entries(targets)) {
      const authority = where === "gateway" ? "web.example.com" : "web.b:8080";
      // The same bytes with clean fields are answered: a refusal below is the fields, not the framing.
      const clean = await exchangeFrames(at, h2Request(request("/clean", authority, [["x-fine", "a b"]])));
      const answer = clean.find((f) => f.stream === 1 && f.type === FrameType.HEADERS);
      assert.ok(answer, `${where}: a clean request is answered`);
      assert.equal(responseStatus(answer), 200, `${where}: a clean request is answered 200`);
      assert.ok(seen.some((s) => s.url === "/clean"));

      // [what, fields, whether dropping the field (not the request) is an acceptable answer]
      const attacks: [string, [string, string][], boolean][] = [
        ["CRLF in a value", request("/a", authority, [["x-evil", "a\r\nx-injected: 1"]]), true],
        ["bare LF in a value", request("/b", authority, [["x-evil", "a\nx-injected: 1"]]), true],
        ["bare CR in a value", request("/c", authority, [["x-evil", "a\rx-injected: 1"]]), true],
        ["NUL in a value", request("/d", authority, [["x-evil", "a\0b"]]), true],
        ["CRLF in a name", request("/e", authority, [["x-evil\r\nx-injected", "1"]]), true],
        ["colon inside a name", request("/g", authority, [["x-evil:injected", "1"]]), true],
        ["upper-case name", request("/f", authority, [["X-Injected", "1"]]), false],
        ["CRLF in :path", request("/h\r\nx-injected: 1", authority), false],
        ["CRLF in :authority", request("/i", `${authority}\r\nx-injected: 1`), false],
        ["space in :method", [[":method", "GET /x HTTP/1.1\r\nx-injected: 1\r\n\r\nGET"], [":scheme", "http"], [":path", "/j"], [":authority", authority]], false],
      ];
      for (const [what, fields, droppable] of attacks) {
        const before = seen.length;
        const frames = await exchangeFrames(at, h2Request(fields));
        const fate = fateOfStream1(frames);
        const status = fate.kind === "response" ? responseStatus(frames.find((f) => f.stream === 1 && f.type === FrameType.HEADERS)!) : undefined;
        const arrived = seen.slice(before);
        if (droppable && fate.kind === "response") {
          // Answered without the field: the application got the request, and none of what the field carried.
          assert.equal(arrived.length, 1, `${where}, ${what}: one request`);
          assert.ok(!arrived[0]!.headers.some((h) => /evil|injected/i.test(h)), `${where}, ${what}: the field was dropped (${JSON.stringify(arrived[0]!.headers)})`);
        } else {
          assert.ok(fate.kind === "reset" || fate.kind === "goaway" || status === 400, `${where}, ${what}: refused (got ${JSON.stringify(fate)}${status ? ` ${status}` : ""})`);
          assert.deepEqual(arrived, [], `${where}, ${what}: nothing reached the application`);
        }
      }
    }
    assert.ok(!seen.some((s) => s.headers.some((h) => /injected|evil|[\r\n\0]/i.test(h))), "no smuggled header or byte reached the application");
    // Both still serve.
    for (const [where, at] of Object.entries(targets)) {
      const frames = await exchangeFrames(at, h2Request(request("/after", where === "gateway" ? "web.example.com" : "web.b:8080")));
      assert.equal(fateOfStream1(frames).kind, "response", `${where} still serves`);
    }
  } finally {
    await m.stop();
    app.close();
  }
});
