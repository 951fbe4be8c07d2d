// An outside client at the gateway and a local caller of a sidecar try to pass a DENY on /admin with request
// targets a client library would tidy up: raw bytes on a socket, each must meet the normalized path (or 400).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";
import { parseScenarioFile } from "../scenario/parse.js";
import { LiveMesh } from "../scenario/live-runner.js";
import { rawExchange } from "../testing/net.js";

/** One raw HTTP/1.1 request; the status code and body of the answer (or "closed" when there is none). */
async function raw(at: string, requestLine: string, host: string): Promise<{ status: string; body: string }> {
  const got = await rawExchange({ host: at.slice(0, at.lastIndexOf(":")), port: Number(at.slice(at.lastIndexOf(":") + 1)) }, `${requestLine}\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 8000);
  return { status: /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? "closed", body: got.slice(got.indexOf("\r\n\r\n") + 4) };
}

const BYPASSES = ["/admin", "/x/../admin", "/./admin", "/%2e%2e/admin", "/%2E%2e/admin", "/x/..\\admin", "/public/%2e%2e/admin", "/%61dmin", "/admin/../admin/", "http://evil.example.com/admin", "http://web.example.com/x/../admin"];

test("attack: dot segments, escapes, backslashes and absolute-form targets do not pass a DENY on /admin (gateway and server sidecar)", { timeout: 90_000 }, async () => {
  const mesh = new LiveMesh(parseScenarioFile(join(PROJECT_ROOT, "test", "scenarios", "path-normalization.yaml")));
  try {
    await mesh.start();
    const gateway = mesh.listenerOf("istio-system/istio-ingressgateway", 8080)!;
    const sidecar = mesh.listenerOf("app/web", 8080)!;
    assert.ok(gateway && sidecar, "the gateway and web's sidecar listen");
    for (const target of BYPASSES) {
      const g = await raw(gateway, `GET ${target} HTTP/1.1`, "web.example.com");
      // An absolute-form target's authority replaces Host: at the gateway, a host no server has is 404.
      assert.equal(g.status, target.startsWith("http://evil") ? "404" : "403", `gateway: GET ${target}`);
      // PERMISSIVE: a local process reaches web's sidecar in plaintext, and policy still decides on the normalized path.
      const s = await raw(sidecar, `GET ${target} HTTP/1.1`, "web.app");
      assert.equal(s.status, "403", `sidecar: GET ${target}`);
    }
    // What passes is forwarded normalized: the application never sees a dot segment.
    const ok = await raw(gateway, "GET /public/./a/../docs HTTP/1.1", "web.example.com");
    assert.equal(ok.status, "200");
    assert.match(ok.body, /"path":"\/public\/docs"/);
    // A target that is not a path at all is refused, not passed.
    assert.equal((await raw(sidecar, "GET * HTTP/1.1", "web.app")).status, "400");
  } finally {
    await mesh.stop();
  }
});
