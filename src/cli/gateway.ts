// `zeromesh gateway`: a gateway run by hand, joined to the mesh the way Istio's
// gateway injection does it (a Deployment whose pod template asks for the
// gateway template), selected by Gateway resources through its labels.
import { stringify } from "yaml";
import { loadSettings } from "../config/settings.js";
import { PROXY_RUN_BY_HAND } from "../registry/injection.js";
import { ProxyAgent } from "../proxy/agent.js";
import { loopbackAddressFor } from "../registry/registry.js";
import { adminCall, adminClient } from "./admin.js";
import { parse } from "./args.js";
import { untilStopped } from "./signals.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh gateway --namespace NS --name NAME --labels k=v,... --port P... [--service-account SA] [--admin HOST:PORT] [--access-log stdout|off]";

export async function gatewayCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {
    namespace: { type: "string" }, name: { type: "string" }, labels: { type: "string" }, port: { type: "string", multiple: true },
    "service-account": { type: "string" }, admin: { type: "string" }, "access-log": { type: "string" },
  }, USAGE);
  if (!values.namespace || !values.name || !values.labels || !values.port?.length) return io.usage(USAGE);
  const settings = loadSettings();
  const admin = adminClient(values.admin);
  const id = `${values.namespace}/${values.name}`;
  const labels = Object.fromEntries(values.labels.split(",").filter(Boolean).map((kv) => kv.split("=") as [string, string]));
  const ports = values.port.map(Number);
  const deployment = {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: values.name, namespace: values.namespace },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { "inject.istio.io/templates": "gateway", [PROXY_RUN_BY_HAND.key]: PROXY_RUN_BY_HAND.value } },
        spec: { serviceAccountName: values["service-account"] ?? "default", containers: [{ name: "istio-proxy", image: "auto", ports: ports.map((p) => ({ containerPort: p })) }] },
      },
    },
  };
  await adminCall(admin, "POST", "/v1/apply", { files: [{ file: `zeromesh gateway ${id}`, text: stringify(deployment) }], cause: `zeromesh gateway ${id}` });
  const boot = await adminCall<{ token: string; spiffe: string; control: string; rootPem: string }>(admin, "POST", "/v1/bootstrap", { workload: id });
  const address = loopbackAddressFor(id);
  const agent = new ProxyAgent({
    control: boot.control, rootPem: boot.rootPem, token: boot.token, spiffe: boot.spiffe, rotateAt: settings.rotateAt,
    sidecar: { id, address, ports, apps: {}, gateway: true, jwksRefreshMs: settings.jwksRefresh, log: values["access-log"] === "off" ? undefined : (e) => io.out(JSON.stringify({ type: "access", ...e })) },
  });
  await agent.start();
  for (const m of agent.sidecar.moved) io.err(`zeromesh: gateway ${id}: ${m}`);
  io.err(`zeromesh: gateway ${id} (${boot.spiffe}) listening on ${Object.values(agent.sidecar.listeners).join(", ")}`);
  await untilStopped();
  await agent.stop();
  await adminCall(admin, "POST", "/v1/apply", { files: [], remove: [{ kind: "Deployment", namespace: values.namespace, name: values.name }], cause: `zeromesh gateway ${id} stopped` }).catch(() => {});
  return 0;
}
