#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZmError } from "../api/errors.js";
import { PROJECT_ROOT } from "../paths.js";
import { HelpRequested } from "./args.js";
import { processIo, type Io } from "./io.js";

const HELP = `zeromesh — a zero-trust service mesh that speaks Istio's configuration API

commands:
  validate -f PATH...            validate Kubernetes + Istio YAML as Istio's webhook would
  check -f PATH... --from NS/WORKLOAD|outside [--via NS/SVC:PORT] --to URL [-X M] [-H 'k: v'] [-o json]
                                 decide one request and explain every step
  test [--static] FILE|DIR...    run scenario files: a real mesh per file (or the engine alone with --static)
  up [--config DIR]              run the control plane (CA, config store, proxy streams, admin API)
  proxy --workload NS/NAME ...   run one sidecar (started for you by the scenario runner)
  run --namespace NS --name NAME --port P -- COMMAND   start an application with its sidecar (in a pod where the control plane runs pods; joins as a WorkloadEntry)
  exec [--node NAME] NS/WORKLOAD -- COMMAND   run a command inside a workload's pod (as kubectl exec; --node: on a node's machine)
  node --join ADDR:PORT --join-file FILE   make this machine a node: it runs the pods of the workloads assigned to it (nodeName)
  node-token NAME --out FILE     a join credential for node NAME (hand the file over out of band)
  nodes                          the joined nodes: address, pod CIDR, status
  gateway --namespace NS --name NAME --labels k=v --port P   run a gateway by hand (selected by Gateway resources)
  apply|delete -f PATH...        change a running control plane's configuration (all or nothing)
  get KIND [-n NS] [-o yaml]     list its resources
  proxy-status                   every proxy: config version sent vs acknowledged
  proxy-config listeners|routes|clusters|endpoints|secret|telemetry NS/WORKLOAD   what one proxy holds
  metrics NS/WORKLOAD            one proxy's Istio metrics (istio_requests_total…), Prometheus text format
  analyze [-f] PATH... [-A|-n NS] [-o json]   Istio's analyzers (istioctl analyze) on files, or on the running control plane; exit 79 on errors
  dashboard [--port 20001]       the web UI (mesh graph, workloads, denials, egress, "can A reach B?") on loopback
  alerts [-o json]               egress the proxies blocked (REGISTRY_ONLY), per destination; exit 1 when any
  demo [--exit]                  bring up the demo mesh and show a request allowed, denied and explained (npm start)
  version                        the installed version (also --version)

Every command takes --help. Exit codes: 0 done (check: allowed), 1 failed (check: denied; test: a probe failed;
validate: invalid), 2 could not run (a bad flag or argument; check: could not decide); analyze: 79 when it found
issues at the failure threshold (as istioctl).
`;


function reportUndecided(e: ZmError, io: Io): number {
  io.err(`${e.message}${e.message.includes("[ZM_") ? "" : ` [${e.code}]`}`);
  return 2;
}

/** The installed package's version, read when asked. */
function version(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version;
}

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    // Each command loads only its own modules: a sidecar process should not carry the YAML parser,
    // the certificate library or the scenario runner (memory is one of its budgets).
    switch (cmd) {
      case "validate": return (await import("./validate.js")).validateCommand(rest, io);
      // A check that cannot decide (a missing workload, invalid configuration, a bad flag) exits 2, never 1 (denied).
      case "check": return await (await import("./check.js")).checkCommand(rest, io).catch((e: unknown) => {
        if (e instanceof ZmError && e.code !== "ZM_USAGE") return reportUndecided(e, io);
        throw e;
      });
      case "test": return await (await import("./test.js")).testCommand(rest, io);
      case "up": return await (await import("./up.js")).upCommand(rest, io);
      case "proxy": return await (await import("./proxy.js")).proxyCommand(rest, io);
      case "app": return await (await import("./app.js")).appCommand(rest, io);
      case "run": return await (await import("./run.js")).runCommand(rest, io);
      case "exec": return await (await import("./exec.js")).execCommand(rest, io);
      case "node": return await (await import("./node.js")).nodeCommand(rest, io);
      case "node-token": return await (await import("./node.js")).nodeTokenCommand(rest, io);
      case "nodes": return await (await import("./node.js")).nodesCommand(rest, io);
      case "gateway": return await (await import("./gateway.js")).gatewayCommand(rest, io);
      case "proxy-status": return await (await import("./admin.js")).proxyStatusCommand(rest, io);
      case "proxy-config": return await (await import("./admin.js")).proxyConfigCommand(rest, io);
      case "analyze": return await (await import("./analyze.js")).analyzeCommand(rest, io);
      case "dashboard": return await (await import("./dashboard.js")).dashboardCommand(rest, io);
      case "alerts": return await (await import("./admin.js")).alertsCommand(rest, io);
      case "metrics": return await (await import("./admin.js")).metricsCommand(rest, io);
      case "apply": return await (await import("./admin.js")).applyCommand(rest, io);
      case "delete": return await (await import("./admin.js")).applyCommand(rest, io, true);
      case "get": return await (await import("./admin.js")).getCommand(rest, io);
      case "demo": return await (await import("./demo.js")).demoCommand(rest, io);
      case "version": case "--version":
        io.out(`zeromesh ${version()}`);
        return 0;
      case undefined: case "help": case "--help": case "-h":
        io.out(HELP);
        return cmd === undefined ? 2 : 0;
      default:
        io.err(`unknown command "${cmd}"\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof HelpRequested) {
      io.out(`usage: ${e.usage}`);
      return 0;
    }
    if (e instanceof ZmError) {
      io.err(`${e.message}${e.message.includes("[ZM_") ? "" : ` [${e.code}]`}`);
      return e.code === "ZM_USAGE" ? 2 : 1;
    }
    // What the system refused (a port taken, a path missing, no permission) is the user's to fix: its words, no stack.
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (code && ["EADDRINUSE", "EADDRNOTAVAIL", "EACCES", "EPERM", "ENOENT", "ENOTDIR", "EISDIR"].includes(code)) {
      io.err(`${(e as Error).message} [ZM_IO]`);
      return 1;
    }
    throw e;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] || process.argv[1]?.endsWith("/zeromesh")) {
  run(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
