// The baseline: two nginx processes doing the same hop as two sidecars —
// plain HTTP in, mutual TLS between them (keep-alive both ways), plain HTTP
// to the same backend.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { createRoot, issueLeaf } from "../ca/x509.js";

export interface NginxPair {
  /** Where the client-side nginx listens (plain HTTP). */
  front: { host: string; port: number };
  pids: number[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function startNginxPair(dir: string, backend: string): Promise<NginxPair> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) };
  const root = await createRoot("bench", validity);
  const server = await issueLeaf(root, { commonName: "server.mesh", dnsNames: ["server.mesh"], validity });
  const client = await issueLeaf(root, { commonName: "client.mesh", dnsNames: ["client.mesh"], client: true, server: false, validity });
  const files: Record<string, string> = { "ca.pem": root.certPem, "server.pem": server.certPem, "server.key": server.keyPem, "client.pem": client.certPem, "client.key": client.keyPem };
  for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), v);
  const [a, b] = [await freePort(), await freePort()];
  const user = process.getuid?.() === 0 ? "user root;" : "";
  const common = (name: string) => `${user}\ndaemon off;\nworker_processes 1;\nerror_log ${dir}/${name}-error.log;\npid ${dir}/${name}.pid;\nevents { worker_connections 4096; }\n`;
  const temps = (name: string) => ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => {
    mkdirSync(join(dir, `${name}-${t}`), { recursive: true });
    return `${t}_temp_path ${dir}/${name}-${t};`;
  }).join(" ");
  const front = `${common("a")}http { access_log off; ${temps("a")}
  upstream peer { server 127.0.0.1:${b}; keepalive 64; }
  server { listen 127.0.0.1:${a};
    location / { proxy_pass https://peer; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host;
      proxy_ssl_certificate ${dir}/client.pem; proxy_ssl_certificate_key ${dir}/client.key;
      proxy_ssl_trusted_certificate ${dir}/ca.pem; proxy_ssl_verify on; proxy_ssl_name server.mesh; proxy_ssl_session_reuse on; } } }\n`;
  const back = `${common("b")}http { access_log off; ${temps("b")}
  upstream app { server ${backend}; keepalive 64; }
  server { listen 127.0.0.1:${b} ssl; ssl_certificate ${dir}/server.pem; ssl_certificate_key ${dir}/server.key;
    ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } } }\n`;
  writeFileSync(join(dir, "a.conf"), front);
  writeFileSync(join(dir, "b.conf"), back);
  const procs: ChildProcess[] = ["a", "b"].map((n) => spawn("nginx", ["-p", dir, "-c", join(dir, `${n}.conf`)], { stdio: "ignore" }));
  // Wait until the front answers through the whole pair.
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${a}/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i === 99) throw new Error(`nginx pair did not come up; see ${dir}/a-error.log and b-error.log`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    front: { host: "127.0.0.1", port: a },
    pids: procs.map((p) => p.pid!).filter(Boolean),
    stop: async () => {
      await Promise.all(procs.map((p) => new Promise<void>((r) => {
        p.once("exit", () => r());
        p.kill("SIGQUIT");
      })));
    },
  };
}

/** The ingress baseline: one nginx terminating TLS in front of the backend (keep-alive upstream). */
export async function startNginxTls(dir: string, backend: string, cert: { certPem: string; keyPem: string }): Promise<NginxPair> {
  writeFileSync(join(dir, "ingress.pem"), cert.certPem);
  writeFileSync(join(dir, "ingress.key"), cert.keyPem);
  const port = await freePort();
  const user = process.getuid?.() === 0 ? "user root;" : "";
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => {
    mkdirSync(join(dir, `i-${t}`), { recursive: true });
    return `${t}_temp_path ${dir}/i-${t};`;
  }).join(" ");
  writeFileSync(join(dir, "i.conf"), `${user}\ndaemon off;\nworker_processes 1;\nerror_log ${dir}/i-error.log;\npid ${dir}/i.pid;\nevents { worker_connections 4096; }
http { access_log off; ${temps}
  upstream app { server ${backend}; keepalive 64; }
  server { listen 127.0.0.1:${port} ssl; ssl_certificate ${dir}/ingress.pem; ssl_certificate_key ${dir}/ingress.key;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } } }\n`);
  const proc = spawn("nginx", ["-p", dir, "-c", join(dir, "i.conf")], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      void s;
      const c = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => (c.destroy(), resolve(true)));
      c.on("error", () => resolve(false));
    });
    if (ok) break;
    if (i === 99) throw new Error(`nginx TLS front did not come up; see ${dir}/i-error.log`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    front: { host: "127.0.0.1", port },
    pids: proc.pid ? [proc.pid] : [],
    stop: () => new Promise<void>((r) => {
      proc.once("exit", () => r());
      proc.kill("SIGQUIT");
    }),
  };
}
