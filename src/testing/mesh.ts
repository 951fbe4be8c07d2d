// Real proxies for tests: sidecars (and gateways, for gateway-injected
// workloads) started from inline YAML, with certificates from a throwaway CA,
// configured as the control plane would push it. No control plane process.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MeshConfig } from "../api/mesh.js";
import { CertificateAuthority } from "../ca/authority.js";
import { createCsr } from "../ca/x509.js";
import { buildProxyConfig } from "../control/proxy-config.js";
import type { EndpointTable } from "../wire/protocol.js";
import { Sidecar, type SidecarOptions } from "../proxy/sidecar.js";
import { Registry } from "../registry/registry.js";
import type { Snapshot } from "../store/snapshot.js";
import { snapshotOf } from "./helpers.js";

export type Address = { host: string; port: number };

export interface MeshSpec {
  yaml: string;
  mesh?: Partial<MeshConfig>;
  /** Workloads that get a proxy, each with where its application listens (on every workload port), if anywhere. */
  proxies: Record<string, Address | undefined>;
  /** Listeners of workloads without a proxy ("ns/name" → port → "host:port"), as the scenario runner registers them. */
  direct?: EndpointTable;
  /** Names outside the registry the proxies resolve ("host:port" → "address:port"), as `up --names` gives them. */
  names?: Record<string, string>;
  /** The CA's state directory (a fresh one when absent): a test that needs certificates before the mesh starts shares it. */
  caDir?: string;
  /** Options every proxy gets (limits, outbound port…). */
  options?: Partial<SidecarOptions>;
}

export interface RunningMesh {
  sidecars: Record<string, Sidecar>;
  reg: Registry;
  /** A sidecar's outbound proxy (HTTP_PROXY). */
  outbound(id: string): Address;
  /** Where a proxy listens for one of its workload ports. */
  listener(id: string, port: number): Address;
  /** A key and a certificate from the mesh's CA for any identity, living `ttlMs` (for impostors and expiry tests). */
  issue(spiffe: string, ttlMs?: number): Promise<{ certPem: string; chainPem: string; keyPem: string; rootPem: string }>;
  /** Pushes a new configuration to every proxy; each must accept it. */
  push(yaml: string): void;
  stop(): Promise<void>;
}

const split = (hostPort: string): Address => {
  const i = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
};

/** A key and a certificate for any identity from the CA kept in `stateDir`, living `ttlMs`. */
export async function issueFrom(stateDir: string, spiffe: string, ttlMs = 3_600_000): Promise<{ certPem: string; chainPem: string; keyPem: string; rootPem: string }> {
  const { csrPem, keyPem } = await createCsr(spiffe);
  return { ...(await (await CertificateAuthority.open({ stateDir, workloadTtlMs: ttlMs })).sign(csrPem, spiffe)), keyPem };
}

export async function startMesh(spec: MeshSpec): Promise<RunningMesh> {
  const stateDir = spec.caDir ?? mkdtempSync(join(tmpdir(), "zm-mesh-"));
  const ca = await CertificateAuthority.open({ stateDir, workloadTtlMs: 3_600_000 });
  const issue = (spiffe: string, ttlMs?: number) => issueFrom(stateDir, spiffe, ttlMs);
  const snapshot = (yaml: string): Snapshot => snapshotOf(yaml, spec.mesh);
  const snap = snapshot(spec.yaml);
  const reg = Registry.of(snap);
  const sidecars: Record<string, Sidecar> = {};
  const stop = () => Promise.all(Object.values(sidecars).map((s) => s.stop())).then(() => {});
  try {
    for (const [id, app] of Object.entries(spec.proxies)) {
      const w = reg.workload(id);
      if (!w) throw new Error(`fixture has no workload ${id}`);
      const ports = reg.workloadPorts(w);
      const sc = new Sidecar({ id, address: w.address, ports, gateway: w.gateway, apps: app ? Object.fromEntries(ports.map((p) => [p, app])) : {}, ...spec.options });
      const { csrPem, keyPem } = await createCsr(w.spiffe);
      sc.setCredentials({ ...(await ca.sign(csrPem, w.spiffe)), keyPem });
      await sc.start();
      sidecars[id] = sc;
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const endpoints: EndpointTable = { ...spec.direct, ...Object.fromEntries(Object.entries(sidecars).map(([id, s]) => [id, s.listeners])) };
  let version = 0;
  const push = (yaml: string) => {
    const s = snapshot(yaml);
    version++;
    for (const [id, sc] of Object.entries(sidecars)) assert.deepEqual(sc.applyConfig(buildProxyConfig(s, Registry.of(s).workload(id)!, version, endpoints, spec.names ?? {})), { ack: true, version });
  };
  push(spec.yaml);
  return {
    sidecars, reg, push, stop, issue,
    outbound: (id) => split(sidecars[id]!.outboundAddress),
    listener: (id, port) => split(sidecars[id]!.listeners[String(port)]!),
  };
}
