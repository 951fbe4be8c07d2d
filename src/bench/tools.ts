// Helpers of the benchmarks: the baseline tools (found, or as root installed from Debian), a child process's job,
// a collection on demand, and the median of rounds.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { execFileSync, spawnSync } from "node:child_process";

export function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Returns the tools that are still missing after trying to install them. */
export function ensureTools(tools: { cmd: string; pkg: string }[], log: (l: string) => void): string[] {
  let missing = tools.filter((t) => !which(t.cmd));
  if (missing.length && process.getuid?.() === 0) {
    log(`installing ${missing.map((m) => m.pkg).join(", ")} from Debian …`);
    try {
      execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore" });
      execFileSync("apt-get", ["install", "-y", "-qq", ...missing.map((m) => m.pkg)], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    } catch (e) {
      log(`apt-get failed: ${(e as Error).message.split("\n")[0]}`);
    }
    missing = tools.filter((t) => !which(t.cmd));
  }
  return missing.map((m) => `${m.cmd} (Debian package ${m.pkg})`);
}

/** The first line on stdin: how a bench's child process gets its job. */
export function firstStdinLine(): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (c: string) => {
      text += c;
      if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")));
    });
  });
}

/** A full garbage collection on demand, for memory figures, without the process having been started with --expose-gc. */
export function exposeGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/** The middle value (the upper of the two middle ones for an even count): a round's figure that one noisy round does not move. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
