// Many simulated proxies in one process, for `npm run bench -- control`: each speaks the real agent protocol to the
// control plane (a key and CSR of its own, its bootstrap credential for a certificate, then the configuration
// stream over mTLS with hello, and an ACK for every configuration), but runs no listeners. Started as a child
// process with a JSON line on stdin: {control, rootPem, proxies: [{id, spiffe, token}], concurrency}. It reports on
// its IPC channel: {ready: n, certMs} once all are connected, and {config: id, version, bytes, at} per configuration.
import { firstStdinLine } from "./tools.js";
import { connect, type ClientHttp2Session } from "node:http2";
import { createCsr } from "../ca/x509.js";
import { onJsonLines } from "../wire/ndjson.js";
import { CERTIFICATE_PATH, KEEPALIVE_MS, STREAM_PATH, WORKLOAD_HEADER, checkControlIdentity, controlMessage } from "../wire/protocol.js";

interface Job {
  control: string;
  rootPem: string;
  proxies: { id: string; spiffe: string; token: string }[];
  concurrency: number;
}

const report = (m: unknown) => process.send?.(m);

function session(job: Job, creds?: { certPem: string; chainPem: string; keyPem: string }): ClientHttp2Session {
  const s = connect(`https://${job.control}`, { ca: job.rootPem, cert: creds ? creds.certPem + creds.chainPem : undefined, key: creds?.keyPem, checkServerIdentity: checkControlIdentity });
  s.on("error", () => {});
  return s;
}

function request(s: ClientHttp2Session, path: string, headers: Record<string, string>, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = s.request({ ":method": "POST", ":path": path, ...headers });
    let data = "";
    let status = 0;
    req.on("response", (h) => (status = Number(h[":status"])));
    req.setEncoding("utf8");
    req.on("data", (c: string) => (data += c));
    req.on("end", () => (status === 200 ? resolve(data) : reject(new Error(`${path}: ${status} ${data}`))));
    req.on("error", reject);
    req.end(body);
  });
}

/** As the real agent: a failed request (the control plane busy, the connection reset) is retried with the same CSR, which the same bootstrap credential may still buy. */
async function certificateFor(job: Job, p: Job["proxies"][number]) {
  const { csrPem, keyPem } = await createCsr(p.spiffe);
  for (let attempt = 1; ; attempt++) {
    const s = session(job);
    try {
      const issued = JSON.parse(await request(s, CERTIFICATE_PATH, { authorization: `Bearer ${p.token}` }, JSON.stringify({ csr: csrPem }))) as { certPem: string; chainPem: string };
      return { certPem: issued.certPem, chainPem: issued.chainPem, keyPem };
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    } finally {
      s.close();
    }
  }
}

function stream(job: Job, p: Job["proxies"][number], creds: { certPem: string; chainPem: string; keyPem: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = session(job, creds);
    const req = s.request({ ":method": "POST", ":path": STREAM_PATH, [WORKLOAD_HEADER]: p.id }, { endStream: false });
    req.on("response", (h) => {
      if (Number(h[":status"]) !== 200) return reject(new Error(`stream refused with ${h[":status"]}`));
      req.write(JSON.stringify({ type: "hello", listeners: {} }) + "\n");
      // As a real agent with nothing to report: a keepalive, or the control plane closes the idle connection.
      setInterval(() => req.write(JSON.stringify({ type: "keepalive" }) + "\n"), KEEPALIVE_MS);
      resolve();
    });
    req.on("error", reject);
    // Bytes as they arrive (counting a parsed configuration again would double this process's work).
    let received = 0;
    let counted = 0;
    req.on("data", (c: string) => (received += Buffer.byteLength(c)));
    onJsonLines(req, (line: unknown) => {
      const m = controlMessage(line);
      if (!m) return;
      // A real proxy checks the configuration before it acknowledges; the control plane's side is what is measured.
      const version = m.type === "config" ? m.config.version : m.delta.version;
      req.write(JSON.stringify({ type: "ack", version }) + "\n");
      report({ config: p.id, version, bytes: received - counted, at: Date.now(), delta: m.type === "delta" });
      counted = received;
    }, { maxLine: 256 * 1024 * 1024, onBad: () => {} });
  });
}

/** session-floor.ts: `sessions` mTLS HTTP/2 sessions to a bare server, each with one open stream and a hello, kept open. */
interface FloorJob { address: string; rootPem: string; sessions: number; cert: string; key: string }

async function floor(job: FloorJob): Promise<void> {
  for (let i = 0; i < job.sessions; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = connect(`https://${job.address}`, { ca: job.rootPem, cert: job.cert, key: job.key, checkServerIdentity: checkControlIdentity });
      s.on("error", reject);
      const req = s.request({ ":method": "POST", ":path": STREAM_PATH }, { endStream: false });
      req.on("response", () => req.write(JSON.stringify({ type: "hello", listeners: {} }) + "\n"));
      // Ready once the first line (the configuration's stand-in) has arrived whole, as a proxy ACKs its first.
      req.setEncoding("utf8");
      req.on("data", (c: string) => c.includes("\n") && resolve());
      req.on("error", reject);
    });
  }
  report({ ready: job.sessions });
}

async function main(): Promise<void> {
  const line = await firstStdinLine();
  const parsed = JSON.parse(line) as Job & { floor?: FloorJob };
  if (parsed.floor) return floor(parsed.floor);
  const job = parsed;
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < job.proxies.length) {
      const p = job.proxies[next++]!;
      await stream(job, p, await certificateFor(job, p));
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  report({ ready: job.proxies.length, certMs: Date.now() - started });
}

main().catch((e: Error) => {
  report({ error: e.message });
  process.exit(1);
});
