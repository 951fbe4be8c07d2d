// The runtime's floor for the control plane's memory: what N idle mutual-TLS HTTP/2 sessions, each with one open
// stream, cost a bare Node server that does nothing else (the same TLS settings and certificates as the control
// plane's endpoint), in a fresh process of its own, each stream having carried as many bytes as a proxy's first
// configuration (a session's buffers keep the size of what it carried). The control plane's memory per proxy is
// reported beside it.
// Run as `node session-floor.js serve` it is that server: a JSON line on stdin with its certificate, then on its
// IPC channel {port} once listening, and {memory} after a garbage collection whenever asked "measure".
import { exposeGc, firstStdinLine } from "./tools.js";
import { fork, type ChildProcess } from "node:child_process";
import { createSecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { SERVER_TLS } from "../net/tls-server.js";
import { CONTROL_SPIFFE_SUFFIX } from "../wire/protocol.js";

export interface Floor {
  rssPerSession: number;
  /** Heap and external (buffers) memory: what the process holds alive, beside what its allocator keeps. */
  livePerSession: number;
}

type Memory = { rss: number; live: number };
const here = dirname(fileURLToPath(import.meta.url));

async function issued(ca: CertificateAuthority, spiffe: string) {
  const { csrPem, keyPem } = await createCsr(spiffe);
  const c = await ca.sign(csrPem, spiffe);
  return { cert: c.certPem + c.chainPem, key: keyPem };
}

function ask<T>(child: ChildProcess, send: unknown, pick: (m: Record<string, unknown>) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (typeof m.error === "string") return reject(new Error(m.error));
      const v = pick(m);
      if (v === undefined) return;
      child.off("message", onMessage);
      resolve(v);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`a floor process exited (${code})`)));
    if (typeof send === "string") child.send(send);
    else child.stdin!.end(JSON.stringify(send) + "\n");
  });
}

/** Memory per session of a bare server, in a process of its own, holding `n` sessions opened by proxy-swarm.ts in floor mode. */
export async function sessionFloor(n: number, ca: CertificateAuthority, firstBytes: number): Promise<Floor> {
  const serving = await issued(ca, `spiffe://cluster.local${CONTROL_SPIFFE_SUFFIX}`);
  const client = await issued(ca, "spiffe://cluster.local/ns/floor/sa/floor");
  const server = fork(join(here, "session-floor.js"), ["serve"], { stdio: ["pipe", "inherit", "inherit", "ipc"] });
  const swarm = fork(join(here, "proxy-swarm.js"), [], { stdio: ["pipe", "inherit", "inherit", "ipc"] });
  try {
    const port = await ask(server, { ...serving, ca: ca.rootPem, firstBytes }, (m) => m.port as number | undefined);
    const before = await ask(server, "measure", (m) => m.memory as Memory | undefined);
    await ask(swarm, { floor: { address: `127.0.0.1:${port}`, rootPem: ca.rootPem, sessions: n, ...client } }, (m) => m.ready as number | undefined);
    const after = await ask(server, "measure", (m) => m.memory as Memory | undefined);
    return { rssPerSession: (after.rss - before.rss) / n, livePerSession: (after.live - before.live) / n };
  } finally {
    swarm.kill("SIGKILL");
    server.kill("SIGKILL");
  }
}

/** This process's memory after a full collection: resident, and live (heap and external). */
function memoryNow(gc: () => void): Memory {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, live: m.heapUsed + m.external };
}

async function serve(): Promise<void> {
  const gc = exposeGc();
  const line = await firstStdinLine();
  const { firstBytes, ...tls } = JSON.parse(line) as { cert: string; key: string; ca: string; firstBytes: number };
  // One shared body, as the control plane writes one configuration's text to every stream that gets it.
  const first = Buffer.from(`{"type":"config","config":${JSON.stringify("x".repeat(Math.max(0, firstBytes - 40)))}}\n`);
  const server = createSecureServer({ ...SERVER_TLS, ...tls, requestCert: true, rejectUnauthorized: true, settings: { maxConcurrentStreams: 16, maxHeaderListSize: 16 * 1024 } });
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    stream.respond({ ":status": 200, "content-type": "application/x-ndjson" });
    stream.write(first);
    stream.on("data", () => {});
  });
  server.on("sessionError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  process.on("message", (m) => m === "measure" && process.send?.({ memory: memoryNow(gc) }));
  process.send?.({ port: (server.address() as AddressInfo).port });
}

if (process.argv[2] === "serve") serve().catch((e: Error) => (process.send?.({ error: e.message }), process.exit(1)));
