// `npm run bench`: measured figures, each against a baseline from the same run.
import { runDecisionBench } from "./decide.js";

const iterations = Number(process.env.ZM_BENCH_ITERATIONS ?? 50_000);
console.log(`zeromesh bench — node ${process.version}, one core (single-threaded), ${iterations} decisions per row\n`);
console.log("policy engine: full request path (source sidecar scope → route → mTLS → PeerAuthentication → AuthorizationPolicy → app)");
const rows = runDecisionBench(iterations);
const base = rows[0]!.decisionsPerSecond;
console.log("| case | decisions/s | µs/decision | vs baseline |");
console.log("|---|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.name} | ${Math.round(r.decisionsPerSecond).toLocaleString("en-US")} | ${(1e6 / r.decisionsPerSecond).toFixed(1)} | ${(r.decisionsPerSecond / base).toFixed(2)}× |`);
}
