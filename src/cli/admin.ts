// Commands against a running control plane, through its loopback admin API.
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { Codes, ZmError } from "../api/errors.js";
import { loadSettings, parseDuration } from "../config/settings.js";
import type { ProxyConfig } from "../wire/protocol.js";
import { stateFrom } from "../proxy/state.js";
import { Registry } from "../registry/registry.js";
import { AdminClient } from "../control/admin-client.js";
import { adminTokenPath, readAdminToken } from "../control/admin-credential.js";
import type { EgressAlert } from "../control/alerts.js";
import { listConfigFiles } from "../store/apply.js";
import { loadText } from "../api/load.js";
import { parse } from "./args.js";
import { resolveKind } from "./kinds.js";
import type { Io } from "./io.js";
import { printData, table } from "./table.js";
import type { DeliveryFailure } from "../control/notifier.js";

/** The control plane's admin API: --admin, else ZEROMESH_ADMIN; with the admin credential (ZEROMESH_ADMIN_TOKEN_FILE, else the state directory's). */
export function adminClient(admin?: string): AdminClient {
  const settings = loadSettings();
  return new AdminClient(admin ?? settings.admin, readAdminToken(adminTokenPath(settings)));
}

/** One admin call; an unreachable control plane or a refusal becomes a ZmError with the server's code and messages. */
export async function adminCall<T>(c: AdminClient, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  let r;
  try {
    r = await c.call<T & { error?: string; errors?: string[]; code?: string }>(method, path, body);
  } catch (e) {
    if (e instanceof ZmError) throw e;
    throw new ZmError(Codes.IO, `cannot reach the control plane's admin API (${(e as Error).message}); is \`zeromesh up\` running? Set ZEROMESH_ADMIN or --admin`);
  }
  if (r.status >= 300) throw new ZmError((r.body.code as typeof Codes[keyof typeof Codes]) ?? Codes.INVALID, r.body.errors?.join("\n") ?? r.body.error ?? `HTTP ${r.status}`);
  return r.body;
}

const ADMIN = { admin: { type: "string" as const }, output: { type: "string" as const, short: "o" } };

export async function proxyStatusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, ADMIN, "zeromesh proxy-status [--admin HOST:PORT] [-o json|yaml]");
  const rows = await adminCall<{ proxy: string; connected: boolean; status: string; sent: number | null; acked: number | null; nack: { error: string } | null; pod: string | null; node: string | null }[]>(adminClient(values.admin), "GET", "/v1/proxy-status");
  printData(io.out, values.output, rows, () => table(["PROXY", "POD IP", "NODE", "CONNECTED", "STATUS", "SENT", "ACKED", "LAST REJECTION"], rows.map((r) => [r.proxy, r.pod ?? "-", r.node ?? "-", r.connected ? "yes" : "no", r.status, String(r.sent ?? "-"), String(r.acked ?? "-"), r.nack?.error.slice(0, 60) ?? ""])));
  return rows.every((r) => r.status === "SYNCED") ? 0 : 1;
}

/** Alerts the control plane raised (blocked egress), oldest first; exit 1 when there are any, so a script can gate on it. */
export async function alertsCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, ADMIN, "zeromesh alerts [--admin HOST:PORT] [-o json|yaml]");
  const c = adminClient(values.admin);
  const alerts = await adminCall<EgressAlert[]>(c, "GET", "/v1/alerts");
  const failures = await adminCall<DeliveryFailure[]>(c, "GET", "/v1/alert-deliveries");
  printData(io.out, values.output, values.output ? { alerts, deliveryFailures: failures } : alerts, () => [
    table(["LAST SEEN", "PROXY", "BLOCKED DESTINATION", "COUNT", "DECIDED BY"], alerts.map((a) => [a.last, a.proxy, `${a.protocol} ${a.host}:${a.port}`, String(a.count), a.policy ?? "-"])),
    ...(failures.length ? ["", "alerts that could not be delivered:", table(["TIME", "RECEIVER", "ATTEMPTS", "ERROR", "MESSAGE"], failures.map((f) => [f.time, f.receiver, String(f.attempts), f.error, f.text.split("\n")[0]!.slice(0, 60)]))] : []),
  ].join("\n"));
  return alerts.length || failures.length ? 1 : 0;
}

/** One proxy's Istio metrics, in Prometheus's text format, from its stats endpoint (found through the control plane). */
export async function metricsCommand(argv: string[], io: Io): Promise<number> {
  const usage = "zeromesh metrics NS/WORKLOAD [--admin HOST:PORT]";
  const { values, positionals } = parse(argv, { admin: { type: "string" as const } }, usage);
  const [proxy] = positionals;
  if (!proxy) return io.usage(usage);
  const r = await adminCall<{ stats: string | null }>(adminClient(values.admin), "GET", `/v1/proxy-config?proxy=${encodeURIComponent(proxy)}`);
  if (!r.stats) throw new ZmError(Codes.NOT_FOUND, `proxy ${proxy} has not reported a stats endpoint; is it connected?`);
  const { status, body } = await new AdminClient(r.stats).text("GET", "/stats/prometheus").catch((e: Error) => {
    throw new ZmError(Codes.IO, `cannot reach ${proxy}'s stats endpoint ${r.stats} (${e.message})`);
  });
  if (status !== 200) throw new ZmError(Codes.IO, `${proxy}'s stats endpoint ${r.stats} answered HTTP ${status}`);
  io.out(body.trimEnd());
  return 0;
}

const SECTIONS = ["listeners", "routes", "clusters", "endpoints", "secret", "telemetry"] as const;

export async function proxyConfigCommand(argv: string[], io: Io): Promise<number> {
  const usage = `zeromesh proxy-config ${SECTIONS.join("|")} NS/WORKLOAD [--admin HOST:PORT] [-o json|yaml]`;
  const { values, positionals } = parse(argv, ADMIN, usage);
  const [section, proxy] = positionals;
  if (!section || !proxy || !SECTIONS.includes(section as (typeof SECTIONS)[number])) return io.usage(usage);
  const r = await adminCall<{ proxy: string; listeners: Record<string, string>; outbound?: string; stats: string | null; certificate: Record<string, string> | null; version: number | null; config: ProxyConfig | null }>(adminClient(values.admin), "GET", `/v1/proxy-config?proxy=${encodeURIComponent(proxy)}`);
  const state = r.config ? stateFrom(r.config) : undefined;
  const reg = state && !("error" in state) ? Registry.of(state.snapshot) : undefined;
  let rows: string[][] = [];
  let head: string[] = [];
  let json: unknown;
  switch (section) {
    case "listeners":
      head = ["DIRECTION", "PORT", "ADDRESS"];
      rows = [["outbound", "*", r.outbound ?? "-"], ...Object.entries(r.listeners).map(([p, a]) => ["inbound", p, a]), ["stats", "/stats/prometheus", r.stats ?? "-"]];
      json = { outbound: r.outbound, inbound: r.listeners, stats: r.stats };
      break;
    case "clusters":
      head = ["SERVICE", "PORT", "PROTOCOL", "SOURCE"];
      rows = (reg?.services ?? []).flatMap((s) => s.ports.map((p) => [s.hostname, String(p.port), p.protocol, s.source]));
      json = rows.map(([host, port, protocol, source]) => ({ host, port: Number(port), protocol, source }));
      break;
    case "routes":
      head = ["VIRTUALSERVICE", "HOSTS", "GATEWAYS", "HTTP/TLS/TCP ROUTES"];
      rows = (state && !("error" in state) ? state.snapshot.list("VirtualService") : []).map((v) => [`${v.meta.namespace}/${v.meta.name}`, v.hosts.join(","), (v.gateways.length ? v.gateways : ["mesh"]).join(","), `${v.http.length}/${v.tls.length}/${v.tcp.length}`]);
      json = rows;
      break;
    case "endpoints":
      head = ["WORKLOAD", "PORT", "LISTENS ON"];
      rows = Object.entries(r.config?.endpoints ?? {}).flatMap(([w, ports]) => Object.entries(ports).map(([p, a]) => [w, p, a]));
      json = r.config?.endpoints ?? {};
      break;
    case "secret":
      head = ["IDENTITY", "SERIAL", "VALID FROM", "VALID TO"];
      rows = r.certificate ? [[r.certificate.spiffe!, r.certificate.serial!, r.certificate.notBefore!, r.certificate.notAfter!]] : [];
      json = r.certificate;
      break;
    case "telemetry": {
      head = ["SIDE", "ACCESS LOG", "METRICS", "WHY"];
      const plan = state && !("error" in state) ? state.telemetry : undefined;
      rows = plan ? (["CLIENT", "SERVER"] as const).map((side) => [side, plan[side].accessLog ? "on" : "off", Object.entries(plan[side].metrics).filter(([, on]) => on).map(([m]) => m).join(",") || "none", plan[side].why.join("; ")]) : [];
      json = plan ?? null;
      break;
    }
  }
  printData(io.out, values.output, json, () => `${r.proxy} (config version ${r.version ?? "-"})\n${table(head, rows)}`);
  return 0;
}

function filesOf(paths: string[]) {
  return listConfigFiles(paths).map((f) => ({ file: f, text: readFileSync(f, "utf8") }));
}

/**
 * apply and delete return once every proxy the change affects has acknowledged it (a policy is a promise only once
 * it is enforced); exit 1 naming the proxies that did not within --timeout, or rejected it. --no-wait: kubectl's way.
 */
export async function applyCommand(argv: string[], io: Io, del = false): Promise<number> {
  const usage = `zeromesh ${del ? "delete" : "apply"} -f PATH... [-n NAMESPACE] [--admin HOST:PORT] [--timeout 30s] [--no-wait]`;
  const { values } = parse(argv, { ...ADMIN, filename: { type: "string", short: "f", multiple: true }, namespace: { type: "string", short: "n" }, timeout: { type: "string" }, "no-wait": { type: "boolean" } }, usage);
  if (!values.filename?.length) return io.usage(usage);
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(values.timeout ?? "30s");
  } catch {
    return io.usage(usage);
  }
  const files = filesOf(values.filename);
  const c = adminClient(values.admin);
  const path = values["no-wait"] ? "/v1/apply" : `/v1/apply?waitMs=${timeoutMs}`;
  type Applied = { version: number; created: string[]; updated: string[]; deleted: string[]; enforced?: { acked: string[]; rejected: string[]; pending: string[]; disconnected: string[] } };
  let r: Applied;
  if (del) {
    const remove = files.flatMap((f) => loadText(f.text, f.file, values.namespace).resources.map((x) => ({ kind: x.kind, namespace: x.meta.namespace, name: x.meta.name })));
    r = await adminCall<Applied>(c, "POST", path, { files: [], remove, cause: "zeromesh delete" });
    io.out(`deleted ${r.deleted.length}: ${r.deleted.join(", ")} (config version ${r.version})`);
  } else {
    r = await adminCall<Applied>(c, "POST", path, { files, cause: "zeromesh apply", ...(values.namespace ? { namespace: values.namespace } : {}) });
    io.out(`applied: ${r.created.length} created, ${r.updated.length} updated (config version ${r.version})`);
  }
  if (!r.enforced) return 0;
  const { acked, rejected, pending, disconnected } = r.enforced;
  io.out(`enforced by ${acked.length} ${acked.length === 1 ? "proxy" : "proxies"} it changes${acked.length ? `: ${acked.join(", ")}` : ""}`);
  if (rejected.length) io.err(`rejected by: ${rejected.join(", ")} (zeromesh proxy-status shows why)`);
  if (pending.length) io.err(`not acknowledged within ${values.timeout ?? "30s"} by: ${pending.join(", ")}`);
  if (disconnected.length) io.err(`not connected, so not told (they may still serve their last configuration): ${disconnected.join(", ")}`);
  return rejected.length || pending.length || disconnected.length ? 1 : 0;
}


export async function getCommand(argv: string[], io: Io): Promise<number> {
  const usage = "zeromesh get KIND [-n NAMESPACE | -A] [-o yaml|json] [--admin HOST:PORT]   (KIND: vs, gw, dr, se, ap, pa, ra, svc… or the kind's name)";
  const { values, positionals } = parse(argv, { ...ADMIN, namespace: { type: "string", short: "n" }, "all-namespaces": { type: "boolean", short: "A" } }, usage);
  if (!positionals[0] || positionals.length > 1) return io.usage(usage);
  const kind = resolveKind(positionals[0]);
  const q = new URLSearchParams({ kind });
  // As kubectl: one namespace ("default" unless -n), or every one with -A.
  if (!values["all-namespaces"] && kind !== "Namespace") q.set("namespace", values.namespace ?? "default");
  const r = await adminCall<{ items: { metadata?: { name?: string; namespace?: string } }[] }>(adminClient(values.admin), "GET", `/v1/resources?${q}`);
  // YAML as kubectl writes several objects: one document each.
  if (values.output === "yaml") io.out(r.items.map((i) => stringify(i)).join("---\n"));
  else printData(io.out, values.output, r.items, () => table(["NAMESPACE", "NAME"], r.items.map((i) => [i.metadata?.namespace ?? "", i.metadata?.name ?? ""])));
  return 0;
}
