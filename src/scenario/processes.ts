// Child processes of the mesh (control plane, sidecars): started from this
// package's own CLI, their JSON output lines collected.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";

const CLI = join(PROJECT_ROOT, "dist", "cli", "main.js");

export class MeshProcess {
  private readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  private waiters: { test: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void; fail: () => void }[] = [];
  private exited = false;
  private stopping = false;
  private exitStatus = "";

  /**
   * `nodeArgs`: flags for this process's Node (e.g. a proxy's heap sizing); `stdin`: written to the child's stdin,
   * which then closes (credentials go this way, never as arguments); `env`: added to this process's environment;
   * `wrap`: a command that runs Node (inside a pod: `ip netns exec NS setpriv ... --`), which execs it in place.
   */
  constructor(readonly name: string, args: string[], opts: { nodeArgs?: string[]; stdin?: string; env?: Record<string, string>; wrap?: string[] } = {}) {
    const { nodeArgs = [], stdin, wrap = [] } = opts;
    // ZEROMESH_NODE_ARGS passes flags to every mesh process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const extra = (process.env.ZEROMESH_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const argv = [...wrap, process.execPath, ...nodeArgs, ...extra, CLI, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"], env: opts.env ? { ...process.env, ...opts.env } : process.env });
    if (stdin !== undefined) this.child.stdin!.on("error", () => {}).end(stdin);
    let out = "";
    this.child.stdout!.setEncoding("utf8").on("data", (c: string) => {
      out += c;
      let nl;
      while ((nl = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          this.lines.push(j);
          if (this.lines.length > 2000) this.lines.splice(0, 1000);
          this.waiters = this.waiters.filter((w) => (w.test(j) ? (w.resolve(j), false) : true));
        } catch {
          this.stderr.push(line);
        }
      }
    });
    this.child.stderr!.setEncoding("utf8").on("data", (c: string) => {
      this.stderr.push(...c.split("\n").filter(Boolean));
      if (this.stderr.length > 500) this.stderr.splice(0, 250);
    });
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      this.exitStatus = signal ? `signal ${signal}` : `code ${code}`;
      // Nothing it has not printed yet will come: whoever waits for a line learns now.
      setImmediate(() => this.waiters.splice(0).forEach((w) => w.fail()));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  waitFor(test: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    const why = () => new Error(`${this.name} did not become ready${this.exited ? ` (it exited, ${this.exitStatus})` : ` in ${timeoutMs} ms`}: ${this.stderr.slice(-5).join(" | ")}`);
    if (this.exited) return Promise.reject(why());
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(why()), timeoutMs);
      this.waiters.push({ test, resolve: (l) => (clearTimeout(t), resolve(l)), fail: () => (clearTimeout(t), reject(why())) });
    });
  }

  /** The listen addresses a `zeromesh gateway` or `proxy` prints on stderr once it is up. */
  async listening(timeoutMs = 15_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.stderr.find((x) => x.includes("listening on"));
      if (line) return /listening on (.+)$/.exec(line)![1]!.split(", ").map((a) => a.split(" ")[0]!);
      if (this.exited || Date.now() > deadline) throw new Error(`${this.name} did not start listening: ${this.stderr.slice(-5).join(" | ")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Why the process is gone when nobody stopped it (a crash), with its last words; undefined while it runs or after stop(). */
  get crashed(): string | undefined {
    if (!this.exited || this.stopping) return undefined;
    return `${this.name} exited unexpectedly (${this.exitStatus})${this.stderr.length ? `: ${this.stderr.slice(-3).join(" | ")}` : ""}`;
  }

  /** SIGTERM, then SIGKILL after `graceMs` (a control plane with pods needs longer: it removes them first). */
  async stop(graceMs = 2000): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await done;
    clearTimeout(t);
  }
}
