import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createNetServer, type Socket } from "node:net";
import { connect, createServer as createTlsServer } from "node:tls";
import { createRoot, issueLeaf } from "../ca/x509.js";
import { endWithAlert } from "./tls-alert.js";

const now = Date.now();
const validity = { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) };

/** What a client sees at its first read when the server ends the session with the alert right after the handshake. */
async function firstRead(version: "TLSv1.2" | "TLSv1.3"): Promise<string> {
  const root = await createRoot("alert test", validity);
  const leaf = await issueLeaf(root, { commonName: "alert.test", dnsNames: ["alert.test"], validity });
  const tls = createTlsServer({ cert: leaf.certPem, key: leaf.keyPem });
  let raw: Socket | undefined;
  tls.on("secureConnection", () => endWithAlert(raw!));
  const tcp = createNetServer((s) => {
    raw = s;
    tls.emit("connection", s);
  }).listen(0, "127.0.0.1");
  await new Promise((r) => tcp.once("listening", r));
  try {
    return await new Promise<string>((resolve) => {
      const c = connect({ host: "127.0.0.1", port: (tcp.address() as { port: number }).port, servername: "alert.test", ca: root.certPem, minVersion: version, maxVersion: version }, () => c.write("GET / HTTP/1.1\r\nhost: alert.test\r\n\r\n"));
      c.on("data", () => resolve("data"));
      c.on("end", () => resolve("clean end"));
      c.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  } finally {
    tcp.close();
  }
}

for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
  test(`tls-alert: under ${version} the client fails with a TLS error, not a close or a reset`, async () => {
    const seen = await firstRead(version);
    assert.match(seen, /^ERR_SSL_/, `client saw: ${seen}`);
  });
}
