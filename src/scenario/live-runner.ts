// `zeromesh test` (live): a real mesh per scenario — the control plane and one
// process per sidecar, stand-in applications and external hosts on real
// sockets — and every probe sent through the real data path.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type AppMode, type RunningApp } from "../app/server.js";
import { describeOutcome, type Outcome } from "../policy/decision.js";
import { decide } from "../policy/engine.js";
import type { Workload } from "../registry/model.js";
import { Registry } from "../registry/registry.js";
import { MemoryStore } from "../store/memory.js";
import type { ResourceKey } from "../store/store.js";
import { loadSettings, proxyNodeArgs } from "../config/settings.js";
import { AdminClient } from "../control/admin-client.js";
import { ADMIN_TOKEN_FILE, readAdminToken } from "../control/admin-credential.js";
import { send, type ClientRequest, type Route } from "./client.js";
import { checkExpect, describeExpect } from "./expect.js";
import type { Probe, Scenario } from "./model.js";
import { buildPki, isTlsPort, type TestPki } from "./pki.js";
import { MeshProcess } from "./processes.js";
import type { ProbeResult } from "./report.js";
import { probeRequest, probeSource, stepChange } from "./static-runner.js";
import { scenarioWorld } from "./world.js";
import { appsInPod, outsideAddresses, sendFromPod } from "./in-pod.js";
import type { AppSpec } from "../cli/app.js";
import { ownListeners, type PodInfo } from "../node/agent.js";

interface RunningWorkload {
  workload: Workload;
  ports: number[];
  apps: RunningApp[];
  proxy?: MeshProcess;
  outbound?: string;
  /** Where each workload port is reachable: the sidecar's listener, or the app itself (in a pod: the pod's address). */
  listeners: Record<string, string>;
  /** Pod mode: the instance's pod, and its stand-in application's process there. */
  pod?: PodInfo;
  podApps?: MeshProcess;
}

/** Where a scenario's workloads run: each in its own pod (network namespace, transparent capture; needs root), or as processes on loopback addresses. */
export type LiveMode = "pods" | "loopback";

export interface LiveMeshOptions {
  mode?: LiveMode;
  /** Send a workload port to an application that already runs (benchmarks), instead of a stand-in. Loopback mode. */
  appAt?: (w: Workload, port: number) => string | undefined;
  /** Extra flags for every sidecar process (e.g. the benchmark turns the access log off, as its nginx baseline does). */
  proxyArgs?: string[];
  /** Node flags for sidecar processes: the same V8 sizing as the gateways `up` starts. */
  proxyNode?: string[];
  /** Hears what the mesh is doing as it comes up and runs its steps (zeromesh test prints it on stderr). */
  progress?: (line: string) => void;
}

/** Why a probe from the node straight to a workload is not run in loopback mode. */
export const LOOPBACK_NODE_TARGET = "not run: from: node with target needs workloads isolated from the node, and this loopback mesh does not isolate them (each application listens on 127.0.0.1, reachable by any local process); run it in pod mode (as root)";

/** How long after a connection-level failure the runner waits for news of a mesh process dying. */
const CRASH_GRACE_MS = 100;

const hostPort = (s: string) => ({ host: s.slice(0, s.lastIndexOf(":")), port: Number(s.slice(s.lastIndexOf(":") + 1)) });

export async function runLive(s: Scenario, mode: LiveMode = "loopback", progress?: (line: string) => void): Promise<ProbeResult[]> {
  const mesh = new LiveMesh(s, { mode, progress });
  try {
    await mesh.start();
    return await mesh.runSteps();
  } finally {
    await mesh.stop();
  }
}

/** A running mesh built from a scenario's configuration (also what `zeromesh demo` keeps up). */
export class LiveMesh {
  private pki!: TestPki;
  private readonly now = new Date();
  private readonly dir = mkdtempSync(join(tmpdir(), "zeromesh-scenario-"));
  private readonly externals: RunningApp[] = [];
  private readonly names: Record<string, string> = {};
  private control!: MeshProcess;
  private admin!: AdminClient;
  adminAddress = "";
  /** The admin credential of this mesh's control plane (in its state directory). */
  adminToken = "";
  adminTokenFile = "";
  private rootFile = "";
  private readonly mirror = new MemoryStore();
  private readonly running = new Map<string, RunningWorkload>();
  readonly mode: LiveMode;
  private readonly appAt?: (w: Workload, port: number) => string | undefined;
  private readonly proxyArgs: string[];
  private readonly proxyNode: string[];
  private readonly progress: (line: string) => void;
  /** Pod mode: gives back the outside hosts' addresses. */
  private releaseOutside?: () => Promise<void>;

  constructor(private readonly s: Scenario, opts: LiveMeshOptions = {}) {
    this.mode = opts.mode ?? "loopback";
    this.appAt = opts.appAt;
    this.proxyArgs = opts.proxyArgs ?? [];
    this.proxyNode = opts.proxyNode ?? proxyNodeArgs(loadSettings());
    this.progress = opts.progress ?? (() => {});
  }

  async start(): Promise<void> {
    this.pki = await buildPki(this.s, this.now);
    // Loopback: every outside host on 127.0.0.1, each port its own. Pods: each host its own address that pods reach
    // through the node, on its real ports, so that a captured connection's original destination is the host's.
    const pods = this.mode === "pods";
    // One more than the externals: "elsewhere", where any other public name resolves in pods and nothing answers.
    const outside = pods ? await outsideAddresses(this.s.externals.length + 1) : undefined;
    this.releaseOutside = outside?.release;
    for (const [i, e] of this.s.externals.entries()) {
      for (const port of e.ports) {
        const leaf = this.pki.externals.get(e.host);
        const mode: AppMode = isTlsPort(port) && leaf ? { serve: "https", certPem: leaf.certPem, keyPem: leaf.keyPem } : { serve: "http" };
        const host = outside?.addresses[i] ?? "127.0.0.1";
        const app = await startApp({ workload: e.host, namespace: "external", files: e.files }, mode, host, pods ? port : 0);
        this.externals.push(app);
        this.names[`${e.host}:${port}`] = `${host}:${app.port}`;
      }
    }
    writeFileSync(join(this.dir, "names.json"), JSON.stringify(this.names));
    // Proxies that originate TLS to the scenario's outside hosts trust its "external" CA, as they would an OS trust store.
    writeFileSync(join(this.dir, "outside-roots.pem"), this.pki.roots.get("external")?.certPem ?? "");
    mkdirSync(join(this.dir, "config"), { recursive: true });
    this.control = new MeshProcess("control plane", ["up", "--json", "--state-dir", this.dir, "--config", join(this.dir, "config"), "--port", "0", "--admin-port", "0", "--names", join(this.dir, "names.json"), "--outside-roots", join(this.dir, "outside-roots.pem"), "--no-gateways", "--no-commands", ...(outside ? ["--pods", "--elsewhere", outside.addresses.at(-1)!] : ["--loopback"])]);
    const ready = await this.control.waitFor((l) => l.ready === true);
    this.progress(`control plane ready (admin ${String(ready.admin)})`);
    this.adminAddress = String(ready.admin);
    this.adminTokenFile = String(ready.adminTokenFile ?? join(this.dir, ADMIN_TOKEN_FILE));
    this.adminToken = readAdminToken(this.adminTokenFile);
    this.admin = new AdminClient(this.adminAddress, this.adminToken);
    this.rootFile = join(this.dir, "root-cert.pem");
    writeFileSync(this.rootFile, String(ready.rootPem));
    const secrets = this.pki.secretsYaml();
    await this.apply([...this.s.resources, ...(secrets ? [{ text: secrets, label: `${this.s.file} certificates` }] : [])], this.s.mesh, [], `${this.s.file} initial resources`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => this.stopWorkload(r)));
    // A control plane with pods removes them (and its bridge) before it exits: give it the time.
    await this.control?.stop(this.mode === "pods" ? 15_000 : 2000);
    await Promise.all(this.externals.map((a) => a.close()));
    await this.releaseOutside?.();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Validates locally (same rules), then applies to the control plane; both or neither change. */
  private async apply(texts: { text: string; label: string }[], meshPatch: unknown, remove: ResourceKey[], cause: string): Promise<void> {
    const change = stepChange(this.mirror, texts, meshPatch, cause, remove);
    const r = await this.admin.call("POST", "/v1/apply", { files: texts.map((t) => ({ file: t.label, text: t.text })), mesh: meshPatch, remove, cause });
    if (r.status !== 200) throw new Error(`the control plane rejected the change: ${JSON.stringify(r.body)}`);
    this.mirror.commit(change);
    await this.reconcile();
  }

  private async reconcile(): Promise<void> {
    const reg = Registry.of(this.mirror.snapshot());
    const world = scenarioWorld(this.s, this.pki, this.now);
    const desired = new Map(reg.workloads.map((w) => [w.id, w]));
    for (const [id, r] of this.running) {
      const w = desired.get(id);
      if (!w || w.sidecar !== r.workload.sidecar || reg.workloadPorts(w).join() !== r.ports.join()) {
        await this.stopWorkload(r);
        this.running.delete(id);
      }
    }
    const starts: Promise<void>[] = [];
    for (const [id, w] of desired) {
      if (this.running.has(id)) continue;
      starts.push((async () => {
        const ports = reg.workloadPorts(w);
        if (this.mode === "pods") return this.startPod(w, ports, reg, world);
        const apps: RunningApp[] = [];
        const appAt: Record<number, string> = {};
        for (const port of w.gateway ? [] : ports) {
          const existing = this.appAt?.(w, port);
          if (existing) {
            appAt[port] = existing;
            continue;
          }
          const { mode, body } = this.standIn(w, port, reg, world);
          const app = await startApp({ workload: w.name, namespace: w.namespace, body }, mode, "127.0.0.1");
          apps.push(app);
          appAt[port] = `127.0.0.1:${app.port}`;
        }
        const r: RunningWorkload = { workload: w, ports, apps, listeners: {} };
        this.running.set(id, r);
        if (!w.sidecar) {
          r.listeners = Object.fromEntries(Object.entries(appAt));
          await this.admin.call("POST", "/v1/endpoints", { workload: id, listeners: r.listeners });
          this.progress(`${id} up without a sidecar`);
          return;
        }
        const boot = await this.admin.call<{ token: string; control: string }>("POST", "/v1/bootstrap", { workload: id });
        r.proxy = new MeshProcess(`sidecar ${id}`, [
          "proxy", "--workload", id, "--spiffe", w.spiffe, "--address", w.address, "--control", boot.body.control, "--root-cert", this.rootFile, "--token-file", "-",
          "--ports", ports.join(","), ...ports.filter((p) => appAt[p]).flatMap((p) => ["--app", `${p}=${appAt[p]}`]), ...(w.gateway ? ["--gateway"] : []),
          // Whatever the scenario's Telemetry says, the runner keeps every decision to explain a failed probe.
          "--log-every-request", ...this.proxyArgs,
        ], { nodeArgs: this.proxyNode, stdin: boot.body.token });
        const ready = await r.proxy.waitFor((l) => l.type === "ready");
        r.outbound = w.gateway ? undefined : String(ready.outbound);
        r.listeners = ready.listeners as Record<string, string>;
        this.progress(`${w.gateway ? "gateway" : "sidecar"} ${id} up (${ports.length ? `ports ${ports.join(",")}` : "no workload ports"})`);
      })());
    }
    await Promise.all(starts);
    // A dead proxy never acknowledges: say that it died rather than wait for it.
    const crashed = this.crashed();
    if (crashed) throw new Error(crashed);
    const proxies = [...this.running.values()].filter((r) => r.proxy || (r.pod && r.workload.sidecar)).map((r) => r.workload.id);
    const sync = await this.admin.call("GET", `/v1/sync?timeoutMs=20000&proxies=${encodeURIComponent(proxies.join(","))}`);
    if (sync.status !== 200) throw new Error((await this.podProxiesGone()) ?? `proxies did not acknowledge the configuration: ${JSON.stringify(sync.body)}`);
    // Said when workloads came up, not after every step's apply.
    if (starts.length && proxies.length) this.progress(`${proxies.length} prox${proxies.length === 1 ? "y" : "ies"} in sync`);
  }

  /** Pod mode: the instance's pod from the control plane's node agent (sidecar or gateway included), then its stand-in ports in it. */
  private async startPod(w: Workload, ports: number[], reg: Registry, world: ReturnType<typeof scenarioWorld>): Promise<void> {
    const made = await this.admin.call<PodInfo>("POST", "/v1/pods", { workload: w.id });
    if (made.status !== 200) throw new Error(`the pod of ${w.id} was not made: ${JSON.stringify(made.body)}`);
    const r: RunningWorkload = { workload: w, ports, apps: [], pod: made.body, listeners: ownListeners(made.body.ip, ports) };
    this.running.set(w.id, r);
    if (w.gateway) return;
    const spec: AppSpec = { workload: w.name, namespace: w.namespace, host: "0.0.0.0", ports: ports.map((port) => ({ port, ...this.standIn(w, port, reg, world) })) };
    if (spec.ports.length) r.podApps = await appsInPod(made.body, spec);
    this.progress(`pod ${w.id} up at ${made.body.ip}${w.sidecar ? " with its sidecar" : ""}`);
  }

  /** How the stand-in serves a workload port (the scenario's `apps` override, else by protocol). */
  private standIn(w: Workload, port: number, reg: Registry, world: ReturnType<typeof scenarioWorld>): { mode: AppMode; body?: string } {
    const b = world.app(w, port, reg.portProtocol(w, port));
    if (b.serve === "tcp-echo" || b.serve === "ext-authz" || b.serve === "ext-authz-grpc") return { mode: { serve: b.serve } };
    return { mode: b.serve === "https" ? { serve: "https", ...this.certFor(w, port) } : { serve: "http" }, body: b.body };
  }

  private certFor(w: Workload, port: number): { certPem: string; keyPem: string } {
    const app = this.s.apps.find((a) => a.workload === w.owner && a.port === port);
    const c = app?.certificate ? this.pki.certs.get(app.certificate) : undefined;
    if (!c) throw new Error(`${w.owner}:${port} serves https without a certificate`);
    return { certPem: c.certPem, keyPem: c.keyPem };
  }

  private async stopWorkload(r: RunningWorkload): Promise<void> {
    if (r.pod) {
      await r.podApps?.stop();
      await this.admin.call("POST", "/v1/pods/delete", { workload: r.workload.id }).catch(() => {});
      return;
    }
    await r.proxy?.stop();
    await Promise.all(r.apps.map((a) => a.close()));
    if (!r.proxy) await this.admin.call("POST", "/v1/endpoints", { workload: r.workload.id, listeners: null }).catch(() => {});
  }

  /** Where a running workload's port is reachable (its proxy's listener, or the app itself). */
  listenerOf(owner: string, port: number): string | undefined {
    return [...this.running.values()].find((r) => r.workload.owner === owner)?.listeners[String(port)];
  }

  /** Every mesh process that died without being stopped, said once per probe. */
  private crashed(): string | undefined {
    const dead = [this.control, ...[...this.running.values()].flatMap((r) => [r.proxy, r.podApps])].map((p) => p?.crashed).filter(Boolean);
    return dead.length ? dead.join("; ") : undefined;
  }

  /** Pod mode: the sidecars run under the control plane's node agent, so a dead one shows as a proxy no longer connected. */
  private async podProxiesGone(): Promise<string | undefined> {
    if (this.mode !== "pods") return undefined;
    const pods = new Set([...this.running.values()].filter((r) => r.pod && r.workload.sidecar).map((r) => r.workload.id));
    const status = await this.admin.call<{ proxy: string; connected: boolean }[]>("GET", "/v1/proxy-status").catch(() => undefined);
    if (!status || status.status !== 200) return undefined;
    // Disconnected, or forgotten already (its grace over): either way not there.
    const connected = new Set(status.body.filter((s) => s.connected).map((s) => s.proxy));
    const gone = [...pods].filter((id) => !connected.has(id));
    return gone.length ? `the sidecar of ${gone.join(", ")} is no longer connected to the control plane (its process died?)` : undefined;
  }

  /** The control plane's process id. */
  controlPid(): number | undefined {
    return this.control?.pid;
  }

  /** Process ids of the running sidecars, by workload owner. */
  sidecarPids(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.running.values()) if (r.proxy?.pid) out[r.workload.owner] = r.proxy.pid;
    return out;
  }

  /** The outbound proxy address of a running workload with a sidecar (use it as HTTP_PROXY). */
  outboundOf(owner: string): string | undefined {
    return [...this.running.values()].find((r) => r.workload.owner === owner)?.outbound;
  }

  async runSteps(): Promise<ProbeResult[]> {
    const results: ProbeResult[] = [];
    for (const step of this.s.steps) {
      try {
        await this.apply(step.apply ? [{ text: step.apply, label: `${this.s.file} steps[${step.index}].apply` }] : [], step.mesh, step.delete, `${this.s.file} steps[${step.index}]`);
      } catch (e) {
        results.push(...step.probes.map((p) => ({ file: this.s.file, step: step.name, probe: p.name, pass: false, expected: describeExpect(p.expect), seen: (e as Error).message })));
        continue;
      }
      this.progress(`step "${step.name}": ${step.probes.length} probe${step.probes.length === 1 ? "" : "s"}`);
      for (const p of step.probes) results.push(await this.probe(step.name, p));
    }
    return results;
  }

  /** Where a client without a sidecar connects: kube-proxy to an endpoint, or the outside host. */
  private directRoute(host: string, port: number, namespace: string, from?: string): Route | string {
    const reg = Registry.of(this.mirror.snapshot());
    if (reg.isClusterName(host, namespace)) {
      const svc = reg.lookup(host, namespace)[0]!;
      const sp = svc.ports.find((p) => p.port === port);
      for (const ep of sp ? reg.endpoints(svc, sp) : []) {
        const at = this.running.get(ep.workload.id)?.listeners[String(ep.port)];
        if (at) return { direct: { ...hostPort(at), from } };
      }
      return `${host}:${port} has no running endpoint`;
    }
    const ext = this.names[`${host}:${port}`];
    return ext ? { direct: { ...hostPort(ext), from } } : `${host} does not resolve`;
  }

  private async probe(step: string, p: Probe): Promise<ProbeResult> {
    const snapshot = this.mirror.snapshot();
    const reg = Registry.of(snapshot);
    const base = { file: this.s.file, step, probe: p.name, expected: describeExpect(p.expect) };
    const source = probeSource(p, reg);
    if (typeof source === "string") return { ...base, pass: false, seen: source };
    let route: Route | string;
    let inPod: PodInfo | undefined;
    if (source.kind === "outside") {
      const svc = reg.servicesByHostname(`${source.via.service}.${source.via.namespace}.svc.cluster.local`)[0];
      const sp = svc?.ports.find((x) => x.port === source.via.port);
      const ep = svc && sp ? reg.endpoints(svc, sp)[0] : undefined;
      route = ep ? this.directRoute(`${source.via.service}.${source.via.namespace}`, source.via.port, source.via.namespace) : `no endpoint for ${p.via?.service}`;
    } else if (source.kind === "node") {
      if (source.target) {
        // Loopback cannot show this: every application listens on the node's loopback, so a process on the node
        // reaches it around its sidecar, and "never from the node" does not hold. Say so rather than pass.
        const pod = this.running.get(source.target.workload.id)?.pod;
        if (!pod) return { ...base, pass: false, seen: this.mode === "pods" ? `${source.target.workload.id} has no running pod` : LOOPBACK_NODE_TARGET };
        route = { direct: { host: pod.ip, port: source.target.port } };
      } else route = this.directRoute(p.url.host, p.url.port, "");
    } else {
      const r = this.running.get(source.workload.id);
      // In a pod the client resolves and connects as curl would: its sidecar (if any) captures the connection, and a
      // Service's cluster IP leads to an endpoint as kube-proxy would (node/services.ts).
      if (r?.pod) route = { direct: { host: p.url.host, port: p.url.port } };
      else route = r?.outbound ? { proxy: hostPort(r.outbound) } : this.directRoute(p.url.host, p.url.port, source.workload.namespace, source.workload.address);
      inPod = r?.pod;
    }
    const staticDecision = decide({ snapshot, world: scenarioWorld(this.s, this.pki, this.now) }, source, probeRequest(p, this.pki));
    if (typeof route === "string") return { ...base, pass: false, seen: route, trail: staticDecision.trail };
    const req: ClientRequest = {
      scheme: p.url.scheme, host: p.url.host, port: p.url.port, method: p.method, path: p.url.path, requestTarget: p.requestTarget, headers: p.headers, body: p.body, send: p.send,
      ca: p.ca ? this.pki.trustFor(p.ca).map((c) => c.toString()).join("\n") : undefined,
      clientCert: p.clientCert ? this.pki.certs.get(p.clientCert) : undefined,
    };
    const crashedBefore = this.crashed();
    if (crashedBefore) return { ...base, pass: false, seen: crashedBefore, trail: staticDecision.trail };
    const outcome: Outcome = inPod ? await sendFromPod(inPod, req, route) : await send(req, route);
    // A refusal that came from a process dying is no refusal: the probe fails, whatever it expected. The exit may be
    // reported a moment after the client saw the reset: give it that moment before believing the refusal.
    if (outcome.kind === "error") await new Promise((r) => setTimeout(r, CRASH_GRACE_MS));
    const crashed = this.crashed() ?? (outcome.kind === "error" ? await this.podProxiesGone() : undefined);
    if (crashed) return { ...base, pass: false, seen: `${crashed} (during this probe)`, trail: staticDecision.trail };
    const diff = checkExpect(p.expect, outcome);
    const agree = sameOutcome(outcome, staticDecision.outcome);
    const note = agree ? undefined : `live and --static disagree: live ${describeOutcome(outcome)}, static ${describeOutcome(staticDecision.outcome)} (${staticDecision.reason})`;
    return { ...base, pass: !diff, seen: diff, note, trail: diff ? staticDecision.trail : undefined, logs: diff ? this.recentLogs() : undefined };
  }

  private recentLogs(): string[] {
    const out: string[] = [];
    for (const r of this.running.values()) for (const l of r.proxy?.lines.slice(-3) ?? []) if (l.type === "access") out.push(`${r.workload.id}: ${JSON.stringify(l.decision)} ${l.error ?? l.status ?? ""}`);
    return out;
  }
}

function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "response" && b.kind === "response") return a.status === b.status;
  if (a.kind === "error" && b.kind === "error") return a.error === b.error;
  return true;
}
