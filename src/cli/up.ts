import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MESH } from "../api/mesh.js";
import { formatIssue } from "../api/errors.js";
import { CertificateAuthority } from "../ca/authority.js";
import { BootstrapAuthority } from "../ca/bootstrap.js";
import { loadSettings, proxyNodeArgs } from "../config/settings.js";
import { adminTokenPath, openOrCreateAdminToken } from "../control/admin-credential.js";
import { GatewayLauncher } from "../control/gateways.js";
import { ControlPlane } from "../control/server.js";
import { FileSource } from "../store/files.js";
import { MemoryStore } from "../store/memory.js";
import { parse } from "./args.js";
import { untilStopped } from "./signals.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh up [--config DIR] [--state-dir DIR] [--port 15012] [--admin-port 15014] [--names FILE] [--outside-roots PEM-FILE] [--no-gateways] [--json]";

/** Runs the control plane until interrupted. */
export async function upCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {
    config: { type: "string" }, "state-dir": { type: "string" }, port: { type: "string" }, "admin-port": { type: "string" },
    names: { type: "string" }, json: { type: "boolean" }, "outside-roots": { type: "string" },
    // The scenario runner starts every workload itself, gateways included.
    "no-gateways": { type: "boolean" },
  }, USAGE);
  const settings = loadSettings(process.env, { stateDir: values["state-dir"] });
  // The state directory holds the CA key, the bootstrap secret and the admin credential: its owner's alone.
  mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 });
  chmodSync(settings.stateDir, 0o700);
  const store = new MemoryStore([], DEFAULT_MESH);
  const configDir = values.config ?? join(settings.stateDir, "config");
  mkdirSync(configDir, { recursive: true });
  const files = new FileSource(store, [configDir], DEFAULT_MESH, (issues) => issues.forEach((i) => io.err(formatIssue(i))));
  for (const i of files.load()) io.err(formatIssue(i));
  files.watch();
  const ca = await CertificateAuthority.open({ stateDir: settings.stateDir, pluginDir: settings.caDir || undefined, workloadTtlMs: settings.workloadCertTtl });
  const cp = new ControlPlane({
    store, ca, bootstrap: BootstrapAuthority.openOrCreate(settings.stateDir), bootstrapTtlMs: settings.bootstrapTtl,
    adminToken: openOrCreateAdminToken(adminTokenPath(settings)),
    port: values.port !== undefined ? Number(values.port) : 15012, adminPort: values["admin-port"] !== undefined ? Number(values["admin-port"]) : 15014,
    names: values.names && existsSync(values.names) ? JSON.parse(readFileSync(values.names, "utf8")) : {},
    outsideRoots: values["outside-roots"] ? readFileSync(values["outside-roots"], "utf8") : undefined,
    audit: (line) => io.err(JSON.stringify({ audit: line })),
    endpointsFile: join(settings.stateDir, "endpoints.json"), lineageFile: join(settings.stateDir, "lineage.json"), endpointGraceMs: settings.endpointGrace,
  });
  await cp.start();
  const gateways = values["no-gateways"] ? undefined : new GatewayLauncher(store, cp, ca.rootPem, settings.stateDir, (l) => io.err(l), proxyNodeArgs(settings));
  gateways?.start();
  if (values.json) io.out(JSON.stringify({ ready: true, control: cp.address, admin: cp.adminAddress, adminTokenFile: adminTokenPath(settings), rootPem: ca.rootPem }));
  else {
    io.out(`zeromesh control plane (${ca.source})`);
    io.out(`  proxies connect to  ${cp.address} (mTLS, HTTP/2)`);
    io.out(`  admin API           http://${cp.adminAddress}  (zeromesh proxy-status, apply, get)`);
    io.out(`  admin credential    ${adminTokenPath(settings)} (mode 0600: the CLI reads it)`);
    io.out(`  configuration       ${configDir} (watched)`);
  }
  await untilStopped();
  files.close();
  gateways?.stop();
  await cp.stop();
  return 0;
}
