import { test } from "node:test";
import assert from "node:assert/strict";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import { PolicyIndex } from "./index.js";
import { effectiveMtls } from "./peer-authn.js";
import { inEgressScope, outboundMode, sidecarFor } from "./sidecar-scope.js";

const APPS = meshYaml([
  { ns: "a", name: "client", labels: { tier: "front" } },
  { ns: "a", name: "peer" },
  { ns: "b", name: "svc" },
  { ns: "c", name: "svc" },
]);
const SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: c}
spec:
  hosts: [api.example.com, "*.wiki.org"]
  ports: [{number: 80, name: http, protocol: HTTP}]`;
const sidecar = (ns: string, name: string, spec: string) => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, "  ")}`;

function scope(extra: string, host: string, port = 80, client = "a/client") {
  const index = PolicyIndex.of(snapshotOf([APPS, SE, extra].filter(Boolean).join("\n---\n")));
  const w = index.registry.instancesOf(client)[0]!;
  const svc = index.registry.services.find((s) => s.hostname === host)!;
  assert.ok(svc, host);
  return inEgressScope(index, w, svc, port);
}

const table: { name: string; sidecar: string; host: string; visible: boolean; line?: string }[] = [
  { name: "no Sidecar: everything", sidecar: "", host: "svc.b.svc.cluster.local", visible: true },
  { name: "ns/*", sidecar: sidecar("a", "s", `egress: [{hosts: ["b/*"]}]`), host: "svc.b.svc.cluster.local", visible: true, line: 'egress[0].hosts[0] "b/*"' },
  { name: "ns/* excludes others", sidecar: sidecar("a", "s", `egress: [{hosts: ["b/*"]}]`), host: "svc.c.svc.cluster.local", visible: false },
  { name: "./* is the workload's namespace", sidecar: sidecar("a", "s", `egress: [{hosts: ["./*"]}]`), host: "peer.a.svc.cluster.local", visible: true },
  { name: "./* excludes other namespaces", sidecar: sidecar("a", "s", `egress: [{hosts: ["./*"]}]`), host: "svc.b.svc.cluster.local", visible: false },
  { name: "*/host in any namespace", sidecar: sidecar("a", "s", `egress: [{hosts: ["*/svc.c.svc.cluster.local"]}]`), host: "svc.c.svc.cluster.local", visible: true },
  { name: "~/* imports nothing", sidecar: sidecar("a", "s", `egress: [{hosts: ["~/*"]}]`), host: "peer.a.svc.cluster.local", visible: false },
  { name: "wildcard dnsName", sidecar: sidecar("a", "s", `egress: [{hosts: ["*/*.example.com"]}]`), host: "api.example.com", visible: true },
  { name: "wildcard dnsName covers a wildcard entry", sidecar: sidecar("a", "s", `egress: [{hosts: ["c/*.org"]}]`), host: "*.wiki.org", visible: true },
  { name: "FQDN in the wrong namespace", sidecar: sidecar("a", "s", `egress: [{hosts: ["b/api.example.com"]}]`), host: "api.example.com", visible: false },
  { name: "workloadSelector wins over namespace-wide", sidecar: [sidecar("a", "wide", `egress: [{hosts: ["*/*"]}]`), sidecar("a", "front", `workloadSelector: {labels: {tier: front}}\negress: [{hosts: ["./*"]}]`)].join("\n---\n"), host: "svc.b.svc.cluster.local", visible: false },
  { name: "root namespace default applies without a local Sidecar", sidecar: "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n---\n" + sidecar("istio-system", "default", `egress: [{hosts: ["./*"]}]`), host: "peer.a.svc.cluster.local", visible: true },
  { name: "root namespace default's ./ is the workload's namespace", sidecar: "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n---\n" + sidecar("istio-system", "default", `egress: [{hosts: ["./*"]}]`), host: "svc.b.svc.cluster.local", visible: false },
  { name: "port-specific listener", sidecar: sidecar("a", "s", `egress: [{port: {number: 80, protocol: HTTP, name: http}, hosts: ["b/*"]}, {hosts: ["c/*"]}]`), host: "svc.b.svc.cluster.local", visible: true },
  { name: "port-specific listener shadows the catch-all", sidecar: sidecar("a", "s", `egress: [{port: {number: 80, protocol: HTTP, name: http}, hosts: ["b/*"]}, {hosts: ["c/*"]}]`), host: "svc.c.svc.cluster.local", visible: false },  // Cases found by mutation testing.
  { name: "a Sidecar selecting other workloads does not apply", sidecar: sidecar("a", "peer-only", `workloadSelector: {labels: {app: peer}}\negress: [{hosts: ["./*"]}]`), host: "svc.b.svc.cluster.local", visible: true },
  { name: "a root-namespace Sidecar with a selector is no mesh default", sidecar: "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n---\n" + sidecar("istio-system", "peer-only", `workloadSelector: {labels: {app: peer}}\negress: [{hosts: ["./*"]}]`), host: "svc.b.svc.cluster.local", visible: true },
  { name: "the catch-all after a listener for another port", sidecar: sidecar("a", "s", `egress: [{port: {number: 9000, protocol: HTTP, name: http}, hosts: ["./*"]}, {hosts: ["b/*"]}]`), host: "svc.b.svc.cluster.local", visible: true, line: 'egress[1].hosts[0] "b/*"' },
  { name: "listeners for other ports only: nothing on this port", sidecar: sidecar("a", "s", `egress: [{port: {number: 9000, protocol: HTTP, name: http}, hosts: ["*/*"]}]`), host: "svc.b.svc.cluster.local", visible: false },
];

for (const c of table) {
  test(`sidecar scope: ${c.name}`, () => {
    const v = scope(c.sidecar, c.host);
    assert.equal(v.visible, c.visible, v.explanation);
    if (c.line) assert.equal(v.line, c.line);
  });
}

test("sidecar scope: exportTo hides a service from other namespaces", () => {
  const v = scope(`apiVersion: v1\nkind: Service\nmetadata: {name: hidden, namespace: b, annotations: {networking.istio.io/exportTo: "."}}\nspec: {selector: {app: svc}, ports: [{port: 80, name: http}]}`, "hidden.b.svc.cluster.local");
  assert.equal(v.visible, false);
  assert.match(v.explanation, /not exported to namespace a/);
});

test("outbound mode: the Sidecar's own outboundTrafficPolicy overrides meshConfig", () => {
  const index = PolicyIndex.of(snapshotOf([APPS, sidecar("a", "s", `outboundTrafficPolicy: {mode: REGISTRY_ONLY}`)].join("\n---\n")));
  const w = index.registry.instancesOf("a/client")[0]!;
  assert.deepEqual(outboundMode(index, sidecarFor(index, w)), { mode: "REGISTRY_ONLY", from: "Sidecar/a/s" });
  const other = PolicyIndex.of(snapshotOf(APPS, { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } }));
  assert.equal(outboundMode(other, sidecarFor(other, other.registry.instancesOf("a/client")[0]!)).from, "meshConfig.outboundTrafficPolicy");
});

const pa = (ns: string, name: string, spec: string) => `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const ROOT = "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}";

const mtlsTable: { name: string; policies: string[]; port?: number; want: string }[] = [
  { name: "default is PERMISSIVE", policies: [], want: "PERMISSIVE" },
  { name: "mesh-wide STRICT", policies: [pa("istio-system", "default", "mtls: {mode: STRICT}")], want: "STRICT" },
  { name: "namespace overrides mesh", policies: [pa("istio-system", "default", "mtls: {mode: STRICT}"), pa("a", "ns", "mtls: {mode: PERMISSIVE}")], want: "PERMISSIVE" },
  { name: "namespace UNSET inherits mesh", policies: [pa("istio-system", "default", "mtls: {mode: STRICT}"), pa("a", "ns", "mtls: {mode: UNSET}")], want: "STRICT" },
  { name: "workload overrides namespace", policies: [pa("a", "ns", "mtls: {mode: STRICT}"), pa("a", "wl", "selector: {matchLabels: {app: client}}\nmtls: {mode: DISABLE}")], want: "DISABLE" },
  { name: "workload selector not matching", policies: [pa("a", "ns", "mtls: {mode: STRICT}"), pa("a", "wl", "selector: {matchLabels: {app: other}}\nmtls: {mode: DISABLE}")], want: "STRICT" },
  { name: "port level overrides workload", policies: [pa("a", "wl", "selector: {matchLabels: {app: client}}\nmtls: {mode: STRICT}\nportLevelMtls: {80: {mode: PERMISSIVE}}")], port: 80, want: "PERMISSIVE" },
  { name: "port level only for its port", policies: [pa("a", "wl", "selector: {matchLabels: {app: client}}\nmtls: {mode: STRICT}\nportLevelMtls: {81: {mode: PERMISSIVE}}")], port: 80, want: "STRICT" },
  { name: "port level over namespace when workload mode UNSET", policies: [pa("a", "ns", "mtls: {mode: STRICT}"), pa("a", "wl", "selector: {matchLabels: {app: client}}\nportLevelMtls: {80: {mode: DISABLE}}")], port: 80, want: "DISABLE" },
  { name: "other namespace's policy does not apply", policies: [pa("b", "ns", "mtls: {mode: STRICT}")], want: "PERMISSIVE" },
];

for (const c of mtlsTable) {
  test(`peer authentication: ${c.name}`, () => {
    const index = PolicyIndex.of(snapshotOf([APPS, ROOT, ...c.policies].join("\n---\n")));
    const v = effectiveMtls(index, index.registry.instancesOf("a/client")[0]!, c.port ?? 80);
    assert.equal(v.mode, c.want, v.explanation);
  });
}
