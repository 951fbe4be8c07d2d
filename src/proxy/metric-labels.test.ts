import { test } from "node:test";
import assert from "node:assert/strict";
import type { Workload } from "../registry/model.js";
import { inboundLabels, outboundLabels, renderLabels } from "./metric-labels.js";

const w = (ns: string, owner: string, sa: string, sidecar = true): Workload => ({
  id: `${ns}/${owner}-0`, owner: `${ns}/${owner}`, ownerKind: "Deployment", namespace: ns, name: `${owner}-0`, replica: 0, labels: {}, annotations: {},
  serviceAccount: sa, principal: `cluster.local/ns/${ns}/sa/${sa}`, spiffe: `spiffe://cluster.local/ns/${ns}/sa/${sa}`, containerPorts: [], sidecar, gateway: false, address: "127.0.0.9",
});
const client = w("a", "client", "sleep");
const web = w("b", "web", "web");

const cases: { name: string; got: Record<string, string>; want: Record<string, string> }[] = [
  {
    name: "outbound to a mesh workload: both sides known, security unknown (as Istio's client side)",
    got: { ...outboundLabels(client, web, "web.b.svc.cluster.local", "http") },
    want: { reporter: "source", source_workload: "client", source_workload_namespace: "a", source_principal: "spiffe://cluster.local/ns/a/sa/sleep", destination_workload: "web", destination_workload_namespace: "b", destination_principal: "spiffe://cluster.local/ns/b/sa/web", destination_service: "web.b.svc.cluster.local", destination_service_name: "web", destination_service_namespace: "b", request_protocol: "http", connection_security_policy: "unknown" },
  },
  {
    name: "outbound to a workload without a sidecar: no principal",
    got: { ...outboundLabels(client, w("c", "legacy", "default", false), "legacy.c.svc.cluster.local", "tcp") },
    want: { reporter: "source", source_workload: "client", source_workload_namespace: "a", source_principal: "spiffe://cluster.local/ns/a/sa/sleep", destination_workload: "legacy", destination_workload_namespace: "c", destination_principal: "unknown", destination_service: "legacy.c.svc.cluster.local", destination_service_name: "legacy", destination_service_namespace: "c", request_protocol: "tcp", connection_security_policy: "unknown" },
  },
  {
    name: "outbound blocked: the service is the BlackHole",
    got: { ...outboundLabels(client, undefined, "BlackHoleCluster", "http") },
    want: { reporter: "source", source_workload: "client", source_workload_namespace: "a", source_principal: "spiffe://cluster.local/ns/a/sa/sleep", destination_workload: "unknown", destination_workload_namespace: "unknown", destination_principal: "unknown", destination_service: "BlackHoleCluster", destination_service_name: "BlackHoleCluster", destination_service_namespace: "unknown", request_protocol: "http", connection_security_policy: "unknown" },
  },
  {
    name: "inbound over mTLS: the caller's namespace and principal from its certificate, its workload unknown",
    got: { ...inboundLabels(web, "spiffe://cluster.local/ns/a/sa/sleep", "web.b.svc.cluster.local", "grpc") },
    want: { reporter: "destination", source_workload: "unknown", source_workload_namespace: "a", source_principal: "spiffe://cluster.local/ns/a/sa/sleep", destination_workload: "web", destination_workload_namespace: "b", destination_principal: "spiffe://cluster.local/ns/b/sa/web", destination_service: "web.b.svc.cluster.local", destination_service_name: "web", destination_service_namespace: "b", request_protocol: "grpc", connection_security_policy: "mutual_tls" },
  },
  {
    name: "inbound plaintext, on a port no service names",
    got: { ...inboundLabels(web, undefined, undefined, "http") },
    want: { reporter: "destination", source_workload: "unknown", source_workload_namespace: "unknown", source_principal: "unknown", destination_workload: "web", destination_workload_namespace: "b", destination_principal: "spiffe://cluster.local/ns/b/sa/web", destination_service: "unknown", destination_service_name: "unknown", destination_service_namespace: "unknown", request_protocol: "http", connection_security_policy: "none" },
  },
];

for (const c of cases) test(`metric labels: ${c.name}`, () => assert.deepEqual(c.got, c.want));

test("metric labels: rendered in order, values escaped for Prometheus", () => {
  const l = outboundLabels(client, undefined, 'we"ird\\host\nname', "http");
  const text = renderLabels(l);
  assert.match(text, /^reporter="source",source_workload="client",/);
  assert.match(text, /destination_service="we\\"ird\\\\host\\nname"/);
});
