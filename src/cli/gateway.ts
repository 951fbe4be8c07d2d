// `zeromesh gateway`: a gateway run by hand, joined to the mesh the way Istio's
// gateway injection does it (a Deployment whose pod template asks for the
// gateway template), selected by Gateway resources through its labels.
import { stringify } from "yaml";
import { Codes, ZmError } from "../api/errors.js";
import { loadSettings } from "../config/settings.js";
import { ProxyAgent } from "../proxy/agent.js";
import { loopbackAddressFor } from "../registry/registry.js";
import { AdminClient } from "../scenario/admin-client.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh gateway --namespace NS --name NAME --labels k=v,... --port P... [--service-account SA] [--admin HOST:PORT] [--access-log stdout|off]";

export async function gatewayCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {
    namespace: { type: "string" }, name: { type: "string" }, labels: { type: "string" }, port: { type: "string", multiple: true },
    "service-account": { type: "string" }, admin: { type: "string" }, "access-log": { type: "string" },
  }, USAGE);
  if (!values.namespace || !values.name || !values.labels || !values.port?.length) return io.usage(USAGE);
  const settings = loadSettings();
  const admin = new AdminClient(values.admin ?? settings.admin);
  const id = `${values.namespace}/${values.name}`;
  const labels = Object.fromEntries(values.labels.split(",").filter(Boolean).map((kv) => kv.split("=") as [string, string]));
  const ports = values.port.map(Number);
  const deployment = {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: values.name, namespace: values.namespace },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { "inject.istio.io/templates": "gateway" } },
        spec: { serviceAccountName: values["service-account"] ?? "default", containers: [{ name: "istio-proxy", image: "auto", ports: ports.map((p) => ({ containerPort: p })) }] },
      },
    },
  };
  const call = async <T>(path: string, body: unknown) => {
    const r = await admin.call<T & { errors?: string[]; error?: string }>("POST", path, body).catch((e: Error) => {
      throw new ZmError(Codes.IO, `cannot reach the control plane's admin API: ${e.message}; is \`zeromesh up\` running?`);
    });
    if (r.status !== 200) throw new ZmError(Codes.INVALID, r.body.errors?.join("\n") ?? r.body.error ?? `HTTP ${r.status}`);
    return r.body;
  };
  await call("/v1/apply", { files: [{ file: `zeromesh gateway ${id}`, text: stringify(deployment) }], cause: `zeromesh gateway ${id}` });
  const boot = await call<{ token: string; spiffe: string; control: string; rootPem: string }>("/v1/bootstrap", { workload: id });
  const address = loopbackAddressFor(id);
  const agent = new ProxyAgent({
    control: boot.control, rootPem: boot.rootPem, token: boot.token, spiffe: boot.spiffe, rotateAt: settings.rotateAt,
    sidecar: { id, address, ports, apps: {}, gateway: true, log: values["access-log"] === "off" ? undefined : (e) => io.out(JSON.stringify({ type: "access", ...e })) },
  });
  await agent.start();
  io.err(`zeromesh: gateway ${id} (${boot.spiffe}) listening on ${Object.values(agent.sidecar.listeners).join(", ")}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await agent.stop();
  await call("/v1/apply", { files: [], remove: [{ kind: "Deployment", namespace: values.namespace, name: values.name }], cause: `zeromesh gateway ${id} stopped` }).catch(() => {});
  return 0;
}
