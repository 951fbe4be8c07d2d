// The zeromesh CLI as a process, to the end: its exit code and output (killed after `timeoutMs`).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";

export const CLI = join(PROJECT_ROOT, "dist", "cli", "main.js");

export function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (code) => (clearTimeout(t), resolve({ code: code ?? 1, out, err })));
  });
}
