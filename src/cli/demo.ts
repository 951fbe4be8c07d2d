// `npm start`: a live demo mesh from examples/demo/config.yaml, three sample
// requests (allowed, denied, explained), and commands to paste.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";
import { send } from "../scenario/client.js";
import { LiveMesh } from "../scenario/live-runner.js";
import { checkCommand } from "./check.js";
import { parse } from "./args.js";
import { untilStopped } from "./signals.js";
import type { Io } from "./io.js";

export async function demoCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { exit: { type: "boolean" } }, "zeromesh demo [--exit]");
  const configFile = join(PROJECT_ROOT, "examples", "demo", "config.yaml");
  const mesh = new LiveMesh({ file: "examples/demo/config.yaml", name: "demo", resources: [{ text: readFileSync(configFile, "utf8"), label: "examples/demo/config.yaml" }], certificates: [], externals: [], apps: [], steps: [] });
  io.out("Starting the demo mesh: control plane, CA, and a sidecar process per workload …");
  const t0 = Date.now();
  await mesh.start();
  const web = mesh.outboundOf("shop/web")!;
  io.out(`Up in ${Date.now() - t0} ms. shop/web's sidecar proxy listens at ${web}.\n`);
  const [host, port] = web.split(":");
  const call = async (path: string) => {
    const o = await send({ scheme: "http", host: "backend.shop", port: 9000, method: "GET", path, headers: {} }, { proxy: { host: host!, port: Number(port) } });
    return o.kind === "response" ? `HTTP ${o.status} ${o.body?.slice(0, 60) ?? ""}` : o.kind === "error" ? `connection ${o.error}` : o.kind;
  };
  io.out(`shop/web → backend /api/orders  : ${await call("/api/orders")}   (allowed by AuthorizationPolicy backend-from-web)`);
  io.out(`shop/web → backend /admin       : ${await call("/admin")}   (denied: no ALLOW rule matches)\n`);
  io.out("Why was /admin denied? zeromesh check explains:\n");
  await checkCommand(["-f", configFile, "--from", "shop/web", "--to", "http://backend.shop:9000/admin"], io);
  io.out(`
Paste these while the mesh runs:
  curl -x http://${web} http://backend.shop:9000/api/orders        # allowed
  curl -x http://${web} http://backend.shop:9000/admin             # 403 RBAC: access denied
  curl -x http://${web} telnet://db.shop:5432                      # reset: db is outside web's egress scope
  export ZEROMESH_ADMIN=${mesh.adminAddress} ZEROMESH_ADMIN_TOKEN_FILE=${mesh.adminTokenFile}   # the admin API and its credential (0600)
  node dist/cli/main.js proxy-status
  node dist/cli/main.js proxy-config clusters shop/web
  node dist/cli/main.js metrics shop/web         # Istio's metrics, Prometheus format
  node dist/cli/main.js alerts                   # egress REGISTRY_ONLY blocked (after the telnet above)
  node dist/cli/main.js check -f examples/demo/config.yaml --from legacy/intruder --to http://backend.shop:9000/api/orders
`);
  if (values.exit || process.env.CI) {
    await mesh.stop();
    return 0;
  }
  io.out("Press Ctrl-C to stop the mesh.");
  await untilStopped();
  await mesh.stop();
  return 0;
}
