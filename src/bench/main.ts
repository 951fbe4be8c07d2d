// `npm run bench`: measured figures, each against a baseline from the same run.
//   npm run bench                 both benchmarks
//   npm run bench -- decide       the policy engine only
//   npm run bench -- mesh         the data path only
import { runDecisionBench } from "./decide.js";
import { runMeshBench } from "./mesh.js";

const which = process.argv[2] ?? "all";
const iterations = Number(process.env.ZM_BENCH_ITERATIONS ?? 50_000);
console.log(`zeromesh bench — node ${process.version}, ${process.platform}/${process.arch}\n`);

if (which === "all" || which === "decide") {
  console.log(`policy engine: full request path (sidecar scope → route → mTLS → PeerAuthentication → AuthorizationPolicy → app), one core, ${iterations} decisions per row`);
  const rows = runDecisionBench(iterations);
  const base = rows[0]!.decisionsPerSecond;
  console.log("| case | decisions/s | µs/decision | vs baseline |");
  console.log("|---|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.decisionsPerSecond).toLocaleString("en-US")} | ${(1e6 / r.decisionsPerSecond).toFixed(1)} | ${(r.decisionsPerSecond / base).toFixed(2)}× |`);
}
if (which === "all" || which === "mesh") {
  console.log("\ndata path: client → sidecar → mTLS → sidecar → server");
  await runMeshBench({ seconds: Number(process.env.ZM_BENCH_SECONDS ?? 5), connections: 32, rate: 1000 }, (l) => console.log(l));
}
