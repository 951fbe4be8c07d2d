import { createWriteStream, readFileSync } from "node:fs";
import { text } from "node:stream/consumers";
import { loadSettings } from "../config/settings.js";
import { createCsrInChild, type CsrAndKey } from "../ca/csr-child.js";
import { INBOUND_PASSTHROUGH_SOURCE } from "../node/capture.js";
import { CAPTURE_INBOUND_PORT } from "../proxy/ports.js";
import { parse } from "./args.js";
import { untilStopped } from "./signals.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh proxy --workload NS/NAME --spiffe ID --address IP --control HOST:PORT --root-cert FILE --token-file FILE|- [--ports P,...] [--app PORT=HOST:PORT ...] [--outbound-port 15001] [--access-log stdout|off|FILE] [--log-every-request] [--gateway] [--capture]";

/** One sidecar as its own process; prints JSON lines (events and access log) on stdout. */
export async function proxyCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {
    workload: { type: "string" }, spiffe: { type: "string" }, address: { type: "string" }, control: { type: "string" },
    "root-cert": { type: "string" }, "token-file": { type: "string" }, ports: { type: "string" }, app: { type: "string", multiple: true },
    "outbound-port": { type: "string" }, "access-log": { type: "string" }, gateway: { type: "boolean" },
    "log-every-request": { type: "boolean" }, capture: { type: "boolean" },
  }, USAGE);
  const accessLog = values["access-log"] ?? "stdout";
  const file = accessLog !== "stdout" && accessLog !== "off" ? createWriteStream(accessLog, { flags: "a" }) : undefined;
  const log = accessLog === "off" ? undefined : (e: object) => (file ? file.write(JSON.stringify(e) + "\n") : io.out(JSON.stringify({ type: "access", ...e })));
  if (!values.workload || !values.spiffe || !values.address || !values.control || !values["root-cert"] || !values["token-file"]) return io.usage(USAGE);
  // The bootstrap credential never rides on a command line (every local user reads /proc/PID/cmdline): a file, or stdin ("-").
  const { token, csr } = parseBootstrap(await readToken(values["token-file"]));
  if (!token) return io.usage(USAGE);
  // The first key and certificate request: handed down with the credential by a node agent (which keeps the X.509
  // library loaded), else made by a child process while this one loads the proxy (pod start is one of the budgets).
  const firstCsr = csr ? Promise.resolve(csr) : createCsrInChild(values.spiffe);
  firstCsr.catch(() => {}); // a failure is the agent's to retry, when it gets there
  const { ProxyAgent } = await import("../proxy/agent.js");
  const settings = loadSettings();
  const apps: Record<number, { host: string; port: number }> = {};
  for (const a of values.app ?? []) {
    const m = /^(\d+)=(.+):(\d+)$/.exec(a);
    if (!m) return io.usage(USAGE);
    apps[Number(m[1])] = { host: m[2]!, port: Number(m[3]) };
  }
  const agent = new ProxyAgent({
    control: values.control, rootPem: readFileSync(values["root-cert"], "utf8"), token, spiffe: values.spiffe, rotateAt: settings.rotateAt, firstCsr,
    sidecar: {
      id: values.workload, address: values.address, apps,
      ports: (values.ports ?? "").split(",").filter(Boolean).map(Number),
      outboundPort: values["outbound-port"] ? Number(values["outbound-port"]) : undefined,
      gateway: values.gateway,
      jwksRefreshMs: settings.jwksRefresh,
      // In a pod (zeromesh run, the node agent): traffic arrives by transparent capture, as with istio-iptables.
      capture: values.capture ? { inboundPort: CAPTURE_INBOUND_PORT, appSource: INBOUND_PASSTHROUGH_SOURCE } : undefined,
      log,
      logAll: values["log-every-request"],
    },
    events: (e) => io.out(JSON.stringify({ type: "event", ...e })),
  });
  await agent.start();
  for (const m of agent.sidecar.moved) io.err(`zeromesh: ${values.workload}: ${m}`);
  io.out(JSON.stringify({ type: "ready", proxy: values.workload, outbound: agent.sidecar.outboundAddress, listeners: agent.sidecar.listeners }));
  await untilStopped();
  await agent.stop();
  return 0;
}

/** What the credential's pipe or file holds: the credential alone, or JSON with it and a first key and CSR. */
export function parseBootstrap(text: string): { token: string; csr?: CsrAndKey } {
  const t = text.trim();
  if (!t.startsWith("{")) return { token: t };
  try {
    const j = JSON.parse(t) as { token?: unknown; csrPem?: unknown; keyPem?: unknown };
    const csr = typeof j.csrPem === "string" && typeof j.keyPem === "string" ? { csrPem: j.csrPem, keyPem: j.keyPem } : undefined;
    return { token: typeof j.token === "string" ? j.token.trim() : "", csr };
  } catch {
    return { token: "" };
  }
}

/** The credential from a file, or from stdin for "-" (the mesh passes it down a pipe). */
async function readToken(from: string): Promise<string> {
  return from === "-" ? await text(process.stdin) : readFileSync(from, "utf8");
}
