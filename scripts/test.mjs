// `npm test`: Node's test runner over dist/, with a watchdog. A test that spins (a busy loop never yields to the
// runner's own --test-timeout) must end the run with a failure, never hang it: past the budget the whole process
// group is killed and the run exits 1. ZEROMESH_TEST_BUDGET (minutes, default 40) sets it.
import { spawn } from "node:child_process";

const budgetMin = Number(process.env.ZEROMESH_TEST_BUDGET ?? 40);
// The preload keeps --test-force-exit from dropping the last verdicts a test file reports (see the file).
// --import reads a URL: a file path with "#" or "%" in it would not load.
const preload = new URL("./test-stdout-blocking.mjs", import.meta.url).href;
const child = spawn(process.execPath, ["--import", preload, "--test", "--test-force-exit", "--test-timeout=300000", ...process.argv.slice(2), "dist/"], { stdio: "inherit", detached: true });
const kill = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
};
const watchdog = setTimeout(() => {
  console.error(`npm test: the suite did not finish within ${budgetMin} min; stopping it (a test that never yields?)`);
  kill("SIGTERM");
  setTimeout(() => kill("SIGKILL"), 10_000).unref();
  process.exitCode = 1;
}, budgetMin * 60_000);
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => kill(s));
child.on("exit", (code, signal) => {
  clearTimeout(watchdog);
  // Whatever the runner left behind (a mesh process a failed test did not stop) goes with it.
  kill("SIGKILL");
  process.exit(process.exitCode ?? code ?? (signal ? 1 : 0));
});
