// The runtime's floor for the control plane's memory: what N idle mutual-TLS HTTP/2 sessions, each with one open
// stream, cost a bare Node server that does nothing else (the same TLS settings and certificates as the control
// plane's endpoint). The control plane's memory per proxy is reported beside it: what is above the floor is ours.
import { fork } from "node:child_process";
import { createSecureServer, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { SERVER_TLS } from "../net/tls-server.js";
import { CONTROL_SPIFFE_SUFFIX } from "../wire/protocol.js";

export interface Floor {
  rssPerSession: number;
  heapPerSession: number;
}

async function issued(ca: CertificateAuthority, spiffe: string) {
  const { csrPem, keyPem } = await createCsr(spiffe);
  const c = await ca.sign(csrPem, spiffe);
  return { cert: c.certPem + c.chainPem, key: keyPem };
}

/** Memory per session of a bare server holding `n` sessions opened by a child process (proxy-swarm.ts in floor mode). */
export async function sessionFloor(n: number, ca: CertificateAuthority, gc: () => void): Promise<Floor> {
  const serving = await issued(ca, `spiffe://cluster.local${CONTROL_SPIFFE_SUFFIX}`);
  const client = await issued(ca, "spiffe://cluster.local/ns/floor/sa/floor");
  const server = createSecureServer({ ...SERVER_TLS, ...serving, ca: ca.rootPem, requestCert: true, rejectUnauthorized: true, settings: { maxConcurrentStreams: 16, maxHeaderListSize: 16 * 1024 } });
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    stream.respond({ ":status": 200, "content-type": "application/x-ndjson" });
    stream.on("data", () => {});
  });
  server.on("sessionError", () => {});
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  gc();
  const before = process.memoryUsage();
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), "proxy-swarm.js"), [], { stdio: ["pipe", "inherit", "inherit", "ipc"] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.on("message", (m: { ready?: number; error?: string }) => (m.error ? reject(new Error(m.error)) : m.ready !== undefined && resolve()));
      child.once("exit", (code) => reject(new Error(`the floor's client exited (${code})`)));
      child.stdin!.end(JSON.stringify({ floor: { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, rootPem: ca.rootPem, sessions: n, ...client } }) + "\n");
    });
    gc();
    const after = process.memoryUsage();
    return { rssPerSession: (after.rss - before.rss) / n, heapPerSession: (after.heapUsed - before.heapUsed) / n };
  } finally {
    child.kill("SIGKILL");
    for (const s of sessions) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
