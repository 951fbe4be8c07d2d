import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { METRICS_PATH, PROMETHEUS_TARGETS_FILE } from "../control/prometheus-sd.js";
import { join } from "node:path";
import { DEFAULT_MESH } from "../api/mesh.js";
import { Codes, ZmError, formatIssue } from "../api/errors.js";
import { CertificateAuthority } from "../ca/authority.js";
import { BootstrapAuthority } from "../ca/bootstrap.js";
import { isWebhookUrl, loadSettings, proxyNodeArgs } from "../config/settings.js";
import { adminTokenPath, openOrCreateAdminToken } from "../control/admin-credential.js";
import { GatewayLauncher } from "../control/gateways.js";
import { ControlPlane } from "../control/server.js";
import { Notifier } from "../control/notifier.js";
import { FileSource } from "../store/files.js";
import { MemoryStore } from "../store/memory.js";
import { NodeAgent } from "../node/agent.js";
import { JoinAuthority } from "../ca/join.js";
import { freePodCidr } from "../node/pod-network.js";
import { podsUnavailable } from "../node/available.js";
import { Registry } from "../registry/registry.js";
import { createHash } from "node:crypto";
import { parse } from "./args.js";
import { untilStopped } from "./signals.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh up [--config DIR] [--state-dir DIR] [--port 15012] [--admin-port 15014] [--names FILE [--elsewhere ADDR]] [--outside-roots PEM-FILE] [--no-gateways] [--no-commands] [--loopback | --pods [--pod-cidr 10.244.N.0/24]] [--listen ADDR] [--alert-webhook URL...] [--json]";

/** The addresses `--names` gives a host ("host:port" → "address:port"), for the pods' DNS. */
export function outsideAddresses(names: Record<string, string>, host: string): string[] | undefined {
  const found = [...new Set(Object.entries(names).filter(([k]) => k.slice(0, k.lastIndexOf(":")) === host).map(([, v]) => v.slice(0, v.lastIndexOf(":"))))];
  return found.length ? found : undefined;
}

/** Runs the control plane until interrupted. */
export async function upCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {
    config: { type: "string" }, "state-dir": { type: "string" }, port: { type: "string" }, "admin-port": { type: "string" },
    names: { type: "string" }, json: { type: "boolean" }, "outside-roots": { type: "string" },
    // With --names (a closed world): where every other name outside the cluster resolves in pods, an address where
    // nothing answers, as a host on the internet that is none of the world's would be reached and not answer.
    elsewhere: { type: "string" },
    // The scenario runner starts every workload itself, gateways included.
    "no-gateways": { type: "boolean" },
    // ...and their applications: the manifests' container commands are not run.
    "no-commands": { type: "boolean" },
    // Pods (network namespaces, capture) when this process may make them, unless --loopback; --pods insists.
    loopback: { type: "boolean" }, pods: { type: "boolean" }, "pod-cidr": { type: "string" },
    // The proxies' endpoint on an address other machines reach: nodes join there (zeromesh node --join ADDR:PORT).
    listen: { type: "string" }, "alert-webhook": { type: "string", multiple: true },
  }, USAGE);
  if (values.loopback && values.pods) return io.usage(USAGE);
  const settings = loadSettings(process.env, { stateDir: values["state-dir"] });
  // The state directory holds the CA key, the bootstrap secret and the admin credential: its owner's alone.
  mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 });
  chmodSync(settings.stateDir, 0o700);
  const store = new MemoryStore([], DEFAULT_MESH);
  // A directory the user names must exist (a typo would otherwise start an empty mesh); the default one is made.
  if (values.config !== undefined && !existsSync(values.config)) throw new ZmError(Codes.USAGE, `--config ${values.config}: no such directory`);
  const configDir = values.config ?? join(settings.stateDir, "config");
  mkdirSync(configDir, { recursive: true });
  const files = new FileSource(store, [configDir], DEFAULT_MESH, (issues) => issues.forEach((i) => io.err(formatIssue(i))));
  for (const i of files.load()) io.err(formatIssue(i));
  files.watch();
  const ca = await CertificateAuthority.open({ stateDir: settings.stateDir, pluginDir: settings.caDir || undefined, workloadTtlMs: settings.workloadCertTtl });
  const unavailable = values.loopback ? "--loopback" : podsUnavailable();
  if (unavailable && values.pods) {
    io.err(`zeromesh: pods are unavailable here: ${unavailable}`);
    return 1;
  }
  const names: Record<string, string> = values.names && existsSync(values.names) ? JSON.parse(readFileSync(values.names, "utf8")) : {};
  // The node agent for this machine's pods (single node: in this process); it needs the control plane and vice versa.
  let cp: ControlPlane | undefined = undefined;
  const node: NodeAgent | undefined = unavailable ? undefined : new NodeAgent({
    // Named after the state directory: two meshes on one machine never share a bridge, namespaces or run directory.
    node: createHash("sha256").update(settings.stateDir).digest("hex").slice(0, 12), podCidr: values["pod-cidr"] ?? (await freePodCidr()),
    registry: () => Registry.of(store.snapshot()), control: (): string => `${node!.gateway}:${cp!.address.split(":")[1]}`, rootPem: ca.rootPem,
    bootstrap: (id) => cp!.issueBootstrap(id, "node agent"), assignAddress: (id, ip) => cp!.assignPodAddress(id, ip), registerEndpoints: (id, l) => cp!.registerEndpoints(id, l),
    runCommands: !values["no-commands"],
    // --names is the whole outside world (a scenario's): the pods' DNS knows no other name. Without it, the node's resolver answers.
    outsideNames: values.names ? (host) => outsideAddresses(names, host) ?? (values.elsewhere && !/(^|\.)cluster\.local$/.test(host) ? [values.elsewhere] : []) : undefined,
    log: (l) => io.err(`zeromesh: ${l}`),
  });
  const audit = (line: Record<string, unknown>) => io.err(JSON.stringify({ audit: line }));
  const webhooks = [...settings.alertWebhooks, ...(values["alert-webhook"] ?? [])];
  for (const u of webhooks) if (!isWebhookUrl(u)) throw new ZmError(Codes.USAGE, `--alert-webhook ${u}: not an http(s) URL`);
  const notifier = webhooks.length ? new Notifier(webhooks, { audit }) : undefined;
  cp = new ControlPlane({
    store, ca, bootstrap: BootstrapAuthority.openOrCreate(settings.stateDir), bootstrapTtlMs: settings.bootstrapTtl,
    adminToken: openOrCreateAdminToken(adminTokenPath(settings)),
    port: values.port !== undefined ? Number(values.port) : 15012, adminPort: values["admin-port"] !== undefined ? Number(values["admin-port"]) : 15014,
    names,
    outsideRoots: values["outside-roots"] ? readFileSync(values["outside-roots"], "utf8") : undefined,
    audit, notifier,
    endpointsFile: join(settings.stateDir, "endpoints.json"), lineageFile: join(settings.stateDir, "lineage.json"), endpointGraceMs: settings.endpointGrace,
    // Pods reach the proxies' endpoint on their bridge's address, nodes on --listen's; the admin API stays on loopback.
    host: node ? "0.0.0.0" : values.listen, pods: node,
    join: JoinAuthority.openOrCreate(settings.stateDir), joinTtlMs: settings.joinTtl, nodesFile: join(settings.stateDir, "nodes.json"),
    prometheusTargetsFile: join(settings.stateDir, PROMETHEUS_TARGETS_FILE),
    localPods: () => (node && values.listen ? { podCidr: node.podCidr, address: values.listen } : undefined), reservedPodCidrs: () => (node ? [node.podCidr] : []),
  });
  try {
    await cp.start();
    await node?.start();
  } catch (e) {
    // Nothing half-started stays behind (watchers, listeners, a bridge).
    files.close();
    await node?.stop().catch(() => {});
    await cp.stop().catch(() => {});
    throw e;
  }
  const gateways = values["no-gateways"] ? undefined : new GatewayLauncher(store, cp, ca.rootPem, settings.stateDir, (l) => io.err(l), proxyNodeArgs(settings));
  gateways?.start();
  const mode = node ? `pods on ${node.podCidr} (bridge ${node.gateway}; zeromesh run and exec)` : `LOOPBACK: workloads are NOT isolated from each other or from this machine (${unavailable})`;
  if (values.json) io.out(JSON.stringify({ ready: true, control: cp.address, admin: cp.adminAddress, adminTokenFile: adminTokenPath(settings), prometheusTargets: join(settings.stateDir, PROMETHEUS_TARGETS_FILE), rootPem: ca.rootPem, pods: node ? { cidr: node.podCidr, gateway: node.gateway } : null }));
  else {
    io.out(`zeromesh control plane (${ca.source})`);
    io.out(`  workloads           ${mode}`);
    io.out(`  proxies connect to  ${cp.address} (mTLS, HTTP/2)`);
    io.out(`  nodes join at       ${values.listen ? `${values.listen}:${cp.address.split(":")[1]}` : node ? `any address of this machine, port ${cp.address.split(":")[1]}` : "nowhere (loopback only; --listen ADDR takes nodes)"} (zeromesh node-token NAME, then zeromesh node there)`);
    io.out(`  admin API           http://${cp.adminAddress}  (zeromesh proxy-status, apply, get)`);
    io.out(`  admin credential    ${adminTokenPath(settings)} (mode 0600: the CLI reads it)`);
    io.out(`  configuration       ${configDir} (watched)`);
    io.out(`  Prometheus targets  ${join(settings.stateDir, PROMETHEUS_TARGETS_FILE)} (file_sd_configs; metrics_path ${METRICS_PATH})`);
  }
  await untilStopped();
  notifier?.stop();
  files.close();
  gateways?.stop();
  await node?.stop();
  await cp.stop();
  return 0;
}
