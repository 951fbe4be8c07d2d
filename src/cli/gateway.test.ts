// `zeromesh gateway` by hand, and a Secret rotated while a client keeps connecting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { createRoot, issueLeaf } from "../ca/x509.js";
import { AdminClient } from "../control/admin-client.js";
import { readAdminToken } from "../control/admin-credential.js";
import { MeshProcess } from "../scenario/processes.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** One HTTPS request on a fresh connection: the certificate serial the gateway presented, and the status. */
function once(host: string, port: number, ca: string, sni = "shop.example.com"): Promise<{ serial: string; status: string }> {
  return new Promise((resolve, reject) => {
    // An empty servername sends no SNI; the certificate is then checked by name here rather than by Node.
    const s = connect({ host, port, servername: sni, ca, checkServerIdentity: () => undefined }, () => {
      const cert = s.getPeerX509Certificate()!;
      if (!cert.checkHost("shop.example.com")) return reject(new Error("not the shop's certificate"));
      const serial = cert.serialNumber;
      s.write("GET / HTTP/1.1\r\nhost: shop.example.com\r\nconnection: close\r\n\r\n");
      let got = "";
      s.on("data", (d) => (got += d));
      s.on("end", () => resolve({ serial, status: got.split("\r\n")[0] ?? "" }));
    });
    s.on("error", reject);
  });
}

test("gateway: run by hand; a rotated Secret is served to new connections without a restart, with SNI and without", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-gw-"));
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) };
  const root = await createRoot("shop", validity);
  const [v1, v2] = [await issueLeaf(root, { commonName: "shop.example.com", dnsNames: ["shop.example.com"], validity }), await issueLeaf(root, { commonName: "shop.example.com", dnsNames: ["shop.example.com"], validity })];
  const secret = (c: typeof v1) => `apiVersion: v1\nkind: Secret\nmetadata: {name: shop-credential, namespace: edge}\ntype: kubernetes.io/tls\ndata: {tls.crt: ${b64(c.certPem)}, tls.key: ${b64(c.keyPem)}}`;
  const port = 21_000 + Math.floor(Math.random() * 20_000);
  const cp = new MeshProcess("control plane", ["up", "--json", "--state-dir", dir, "--port", "0", "--admin-port", "0", "--loopback"]);
  const procs: MeshProcess[] = [];
  try {
    const ready = await cp.waitFor((l) => l.ready === true);
    const adminAddr = String(ready.admin);
    const admin = new AdminClient(adminAddr, readAdminToken(String(ready.adminTokenFile)));
    const cliEnv = { ZEROMESH_ADMIN_TOKEN_FILE: String(ready.adminTokenFile) };
    const apply = async (text: string) => assert.equal((await admin.call("POST", "/v1/apply", { files: [{ file: "t.yaml", text }] })).status, 200);
    await apply([
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: edge}",
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}",
      `apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {selector: {app: web}, ports: [{name: http, port: ${port}}]}`,
      "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: edge}\nspec: {selector: {gw: edge}, ports: [{name: https, port: 443, targetPort: 9443}]}",
      secret(v1),
      "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: shop, namespace: shop}\nspec:\n  selector: {gw: edge}\n  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ['*'], tls: {mode: SIMPLE, credentialName: shop-credential}}]",
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: shop, namespace: shop}\nspec: {hosts: [shop.example.com], gateways: [shop], http: [{route: [{destination: {host: web}}]}]}",
    ].join("\n---\n"));
    procs.push(new MeshProcess("web", ["run", "--admin", adminAddr, "--namespace", "shop", "--name", "web", "--port", String(port), "--access-log", "off", "--", process.execPath, "-e", `require("http").createServer((q, s) => s.end("web")).listen(${port}, "127.0.0.1")`], { env: cliEnv }));
    const gw = new MeshProcess("gateway", ["gateway", "--admin", adminAddr, "--namespace", "edge", "--name", "edge", "--labels", "gw=edge", "--port", "9443", "--access-log", "off"], { env: cliEnv });
    procs.push(gw);
    const [host, p] = (await gw.listening())[0]!.split(":");
    const at = { host: host!, port: Number(p) };

    let r = await once(at.host, at.port, root.certPem).catch(() => ({ serial: "", status: "" }));
    for (let i = 0; i < 100 && r.status !== "HTTP/1.1 200 OK"; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await once(at.host, at.port, root.certPem).catch(() => ({ serial: "", status: "" }));
    }
    assert.equal(r.status, "HTTP/1.1 200 OK");
    assert.equal(r.serial, v1.cert.serialNumber);

    await apply(secret(v2));
    const seen = new Set<string>();
    for (let i = 0; i < 200 && !seen.has(v2.cert.serialNumber); i++) {
      const x = await once(at.host, at.port, root.certPem);
      assert.equal(x.status, "HTTP/1.1 200 OK", "every connection succeeds across the rotation");
      seen.add(x.serial);
    }
    assert.ok(seen.has(v2.cert.serialNumber), "the new certificate is served without a restart");
    // A client that sends no SNI (an IP address in its URL) reaches the "*" server too, with the same certificate.
    assert.deepEqual(await once(at.host, at.port, root.certPem, ""), { serial: v2.cert.serialNumber, status: "HTTP/1.1 200 OK" });
  } finally {
    for (const p of procs) await p.stop();
    await cp.stop();
  }
});
