// A control plane in this process with real proxy agents over real sockets: the harness of the control-plane
// tests and of the attacks on it (src/security/).
import { mkdtempSync } from "node:fs";
import { connect as h2connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MESH } from "../api/mesh.js";
import { startApp } from "../app/server.js";
import { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { BootstrapAuthority } from "../ca/bootstrap.js";
import { JoinAuthority } from "../ca/join.js";
import { AdminClient } from "../control/admin-client.js";
import { ADMIN_TOKEN_FILE, openOrCreateAdminToken } from "../control/admin-credential.js";
import type { Notifier } from "../control/notifier.js";
import { ControlPlane } from "../control/server.js";
import type { AdmissionLimits } from "../control/admission.js";
import { ProxyAgent } from "../proxy/agent.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import { MemoryStore } from "../store/memory.js";
import { meshYaml } from "./helpers.js";

export const CONTROL_YAML = meshYaml([{ ns: "a", name: "client" }, { ns: "b", name: "web", port: 8080 }]);

export function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), usage: (t: string) => (err.push(t), 2) } };
}

export async function controlFixture(opts: { ttlMs?: number; extraYaml?: string; graceMs?: number; admission?: Partial<AdmissionLimits>; join?: boolean; notifier?: Notifier; idleMs?: number } = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), "zm-cp-"));
  const store = new MemoryStore(parseTexts([{ text: CONTROL_YAML + (opts.extraYaml ?? ""), file: "mesh.yaml" }], DEFAULT_MESH).resources);
  const adminTokenFile = join(stateDir, ADMIN_TOKEN_FILE);
  const adminToken = openOrCreateAdminToken(adminTokenFile);
  const open = async (port = 0, adminPort = 0) => {
    const cp = new ControlPlane({
      store, ca: await ca(),
      bootstrap: BootstrapAuthority.openOrCreate(stateDir), bootstrapTtlMs: 3_600_000, adminToken, port, adminPort, debounceMs: 10,
      endpointsFile: join(stateDir, "endpoints.json"), lineageFile: join(stateDir, "lineage.json"), endpointGraceMs: opts.graceMs ?? 15_000, admission: opts.admission, audit: (line) => audits.push(line),
      join: opts.join ? JoinAuthority.openOrCreate(stateDir) : undefined, notifier: opts.notifier, prometheusTargetsFile: join(stateDir, "prometheus-targets.json"), idleMs: opts.idleMs,
    });
    await cp.start();
    return cp;
  };
  const reg = Registry.of(store.snapshot());
  const app = await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1");
  const events: string[] = [];
  const audits: Record<string, unknown>[] = [];
  const agent = (id: string, control: string, rootPem: string, token: string, rotateAt = 0.5, outboundPort?: number, keepaliveMs?: number) => {
    const w = reg.workload(id)!;
    const ports = reg.workloadPorts(w);
    return new ProxyAgent({ control, rootPem, token, spiffe: w.spiffe, rotateAt, keepaliveMs, events: (e) => events.push(JSON.stringify(e)), sidecar: { id, address: w.address, ports, outboundPort, apps: Object.fromEntries(ports.map((p) => [p, { host: "127.0.0.1", port: app.port }])) } });
  };
  /** The mesh CA on this state (the one the control plane signs with). */
  const ca = (ttlMs = opts.ttlMs ?? 3_600_000) => CertificateAuthority.open({ stateDir, workloadTtlMs: ttlMs });
  const rootPem = (await ca()).rootPem;
  /** Agents first (they may still be talking), then the control plane, the gate and the application. */
  const stop = async (agents: ProxyAgent[], cp: ControlPlane, gate?: { close(): Promise<void> }) => {
    await Promise.all(agents.map((a) => a.stop()));
    await cp.stop();
    await gate?.close();
    await app.close();
  };
  /** The admin API as the CLI reaches it (with the credential), and its environment for `run([...])`. */
  const admin = (cp: ControlPlane) => new AdminClient(cp.adminAddress, adminToken);
  const cliEnv = (cp: ControlPlane) => Object.assign(process.env, { ZEROMESH_ADMIN: cp.adminAddress, ZEROMESH_ADMIN_TOKEN_FILE: adminTokenFile });
  return { store, open, agent, reg, app, stateDir, events, audits, rootPem, stop, admin, cliEnv, adminToken, ca };
}

/** Polls `cond` every 20 ms until it holds, or throws after `limitMs`. */
export const waitUntil = async (cond: () => boolean | Promise<boolean>, limitMs = 30_000) => {
  const deadline = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** One request on the proxies' endpoint (HTTP/2 over TLS), with whatever credential the caller has. */
export async function controlCall(address: string, rootPem: string, path: string, headers: Record<string, string>, body: string, tls: { cert?: string; key?: string } = {}): Promise<{ status: number; body: string }> {
  const session = h2connect(`https://${address}`, { ca: rootPem, ...tls, checkServerIdentity: () => undefined });
  session.on("error", () => {});
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": path, ...headers });
      let status = 0;
      let data = "";
      req.on("response", (h) => (status = Number(h[":status"])));
      req.setEncoding("utf8");
      req.on("data", (c: string) => (data += c));
      req.on("end", () => resolve({ status, body: data }));
      req.on("error", reject);
      req.end(body);
    });
  } finally {
    session.close();
  }
}

/** A fresh key and a CSR for `spiffe`, as the body of a /v1/certificate request. */
export const csrFor = async (spiffe: string) => {
  const { csrPem, keyPem } = await createCsr(spiffe);
  return { body: JSON.stringify({ csr: csrPem }), keyPem };
};

