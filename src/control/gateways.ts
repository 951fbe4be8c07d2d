// `zeromesh up` runs the gateways its configuration declares (gateway
// injection), each as its own `zeromesh proxy --gateway` process, and stops
// the ones the configuration no longer has.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";
import { PROXY_RUN_BY_HAND } from "../registry/injection.js";
import { Registry } from "../registry/registry.js";
import type { ConfigStore } from "../store/store.js";
import type { ControlPlane } from "./server.js";

export class GatewayLauncher {
  private readonly running = new Map<string, { proc: ChildProcess; ports: string }>();
  private unsubscribe?: () => void;
  private stopped = false;
  private readonly restarts = new Map<string, { at: number; wait: number }>();

  constructor(
    private readonly store: ConfigStore,
    private readonly cp: ControlPlane,
    private readonly rootPem: string,
    private readonly stateDir: string,
    private readonly log: (line: string) => void,
    /** Node flags for the gateway processes (see proxyNodeArgs). */
    private readonly nodeArgs: string[] = [],
  ) {}

  start(): void {
    writeFileSync(join(this.stateDir, "root-cert.pem"), this.rootPem);
    this.reconcile();
    this.unsubscribe = this.store.subscribe(() => this.reconcile());
  }

  private reconcile(): void {
    const reg = Registry.of(this.store.snapshot());
    const wanted = new Map(reg.workloads.filter((w) => w.gateway && w.annotations[PROXY_RUN_BY_HAND.key] !== PROXY_RUN_BY_HAND.value).map((w) => [w.id, w]));
    for (const [id, r] of this.running) {
      const w = wanted.get(id);
      if (!w || reg.workloadPorts(w).join(",") !== r.ports) {
        r.proc.kill("SIGTERM");
        this.running.delete(id);
        this.log(`gateway ${id} stopped`);
      }
    }
    for (const [id, w] of wanted) {
      if (this.running.has(id)) continue;
      const ports = reg.workloadPorts(w).join(",");
      const proc = spawn(process.execPath, [
        ...this.nodeArgs, join(PROJECT_ROOT, "dist", "cli", "main.js"), "proxy", "--gateway", "--workload", id, "--spiffe", w.spiffe, "--address", w.address,
        "--control", this.cp.address, "--root-cert", join(this.stateDir, "root-cert.pem"), "--token-file", "-", "--ports", ports,
      ], { stdio: ["pipe", "inherit", "inherit"] });
      // The bootstrap credential goes down the pipe: an argument would be readable by every local user.
      proc.stdin!.on("error", () => {}).end(this.cp.issueBootstrap(id, "gateway launcher"));
      this.running.set(id, { proc, ports });
      this.log(`gateway ${id} started (${w.spiffe}) on ${w.address} ports ${ports || "none"}`);
      // A gateway that dies is started again (as a Deployment's pod would be), after a back-off that grows while it keeps dying.
      proc.once("exit", (code, signal) => {
        if (this.stopped || this.running.get(id)?.proc !== proc) return;
        this.running.delete(id);
        const wait = this.restartBackoff(id);
        this.log(`gateway ${id} exited (${signal ?? `code ${code}`}); starting it again in ${wait} ms`);
        setTimeout(() => !this.stopped && this.reconcile(), wait).unref();
      });
    }
  }

  /** 1 s, doubling to 30 s for a gateway that dies again within a minute of its last start. */
  private restartBackoff(id: string): number {
    const last = this.restarts.get(id);
    const wait = last && Date.now() - last.at < 60_000 ? Math.min(30_000, last.wait * 2) : 1000;
    this.restarts.set(id, { at: Date.now(), wait });
    return wait;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    for (const r of this.running.values()) r.proc.kill("SIGTERM");
    this.running.clear();
  }
}
