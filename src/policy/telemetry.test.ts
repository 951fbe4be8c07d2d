import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MESH, type MeshConfig } from "../api/mesh.js";
import { Registry } from "../registry/registry.js";
import { meshYaml, snapshotOf } from "../testing/helpers.js";
import { telemetryPlan } from "./telemetry.js";

const APPS = meshYaml([{ ns: "shop", name: "web" }, { ns: "shop", name: "db" }, { ns: "ops", name: "tool" }]);
const tel = (ns: string, name: string, spec: string) => `\n---\napiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const LOG_ALL = tel("istio-system", "mesh-default", "accessLogging: [{providers: [{name: envoy}]}]");

type Row = { name: string; yaml?: string; mesh?: Partial<MeshConfig>; workload?: string; client: boolean; server: boolean; why?: RegExp };

const logging: Row[] = [
  { name: "Istio's default: no access log", client: false, server: false, why: /meshConfig\.accessLogFile is empty/ },
  { name: "meshConfig.accessLogFile turns it on for every side", mesh: { accessLogFile: "/dev/stdout" }, client: true, server: true, why: /accessLogFile/ },
  { name: "a root-namespace Telemetry with the envoy provider", yaml: LOG_ALL, client: true, server: true, why: /provider envoy \(Telemetry\/istio-system\/mesh-default\)/ },
  { name: "a workload-level Telemetry disables it for the selected workload", yaml: LOG_ALL + tel("shop", "quiet-web", "selector: {matchLabels: {app: web}}\naccessLogging: [{providers: [{name: envoy}], disabled: true}]"), client: false, server: false, why: /disabled by Telemetry\/shop\/quiet-web/ },
  { name: "… and not for another in the namespace", yaml: LOG_ALL + tel("shop", "quiet-web", "selector: {matchLabels: {app: web}}\naccessLogging: [{providers: [{name: envoy}], disabled: true}]"), workload: "shop/db", client: true, server: true },
  { name: "a namespace-level Telemetry overrides the root", yaml: LOG_ALL + tel("shop", "ns", "accessLogging: [{disabled: true}]"), client: false, server: false },
  { name: "another namespace keeps the root's", yaml: LOG_ALL + tel("shop", "ns", "accessLogging: [{disabled: true}]"), workload: "ops/tool", client: true, server: true },
  { name: "match mode SERVER logs inbound only", yaml: tel("istio-system", "mesh-default", "accessLogging: [{providers: [{name: envoy}], match: {mode: SERVER}}]"), client: false, server: true },
  { name: "disabling the CLIENT side only", yaml: LOG_ALL + tel("shop", "ns", "accessLogging: [{match: {mode: CLIENT}, disabled: true}]"), client: false, server: true },
  { name: "a selector in the root namespace is ignored", yaml: tel("istio-system", "sel", "selector: {matchLabels: {app: web}}\naccessLogging: [{providers: [{name: envoy}]}]"), client: false, server: false },
  { name: "default providers: a Telemetry that names none uses them", yaml: tel("shop", "ns", "accessLogging: [{}]"), mesh: { defaultProviders: { accessLogging: ["envoy"], metrics: ["prometheus"] } }, client: true, server: true },
  { name: "a Telemetry for the other side only leaves this side unlogged, default providers or not", yaml: tel("shop", "ns", "accessLogging: [{match: {mode: SERVER}}]"), mesh: { defaultProviders: { accessLogging: ["envoy"], metrics: ["prometheus"] } }, client: false, server: true },
  { name: "default providers alone turn it on", mesh: { defaultProviders: { accessLogging: ["envoy"], metrics: ["prometheus"] } }, client: true, server: true },
  { name: "an extensionProvider with envoyFileAccessLog is written", yaml: tel("istio-system", "mesh-default", "accessLogging: [{providers: [{name: file-json}]}]"), mesh: { extensionProviders: [{ name: "file-json", kind: "envoyFileAccessLog" }] }, client: true, server: true },
  { name: "an OpenTelemetry provider is not something a zeromesh proxy writes", yaml: tel("istio-system", "mesh-default", "accessLogging: [{providers: [{name: otel}]}]"), mesh: { extensionProviders: [{ name: "otel", kind: "other" }] }, client: false, server: false, why: /otel is not a file logger/ },
  { name: "an unknown provider logs nothing", yaml: tel("istio-system", "mesh-default", "accessLogging: [{providers: [{name: nowhere}]}]"), client: false, server: false },
];

for (const r of logging) {
  test(`telemetry access log: ${r.name}`, () => {
    const snap = snapshotOf(APPS + (r.yaml ?? ""), { ...DEFAULT_MESH, ...r.mesh });
    const plan = telemetryPlan(snap, Registry.of(snap).workload(r.workload ?? "shop/web")!);
    assert.deepEqual({ client: plan.CLIENT.accessLog, server: plan.SERVER.accessLog }, { client: r.client, server: r.server }, plan.CLIENT.why.join("; "));
    if (r.why) assert.match(plan.CLIENT.why.join("; ") + plan.SERVER.why.join("; "), r.why);
  });
}

type MetricRow = { name: string; yaml?: string; mesh?: Partial<MeshConfig>; client: string[]; server: string[] };
const ALL = ["REQUEST_COUNT", "REQUEST_DURATION", "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS"];

const metrics: MetricRow[] = [
  { name: "Istio's default: every metric, to prometheus", client: ALL, server: ALL },
  { name: "ALL_METRICS disabled at the root", yaml: tel("istio-system", "m", "metrics: [{providers: [{name: prometheus}], overrides: [{disabled: true}]}]"), client: [], server: [] },
  { name: "the namespace turns one back on", yaml: tel("istio-system", "m", "metrics: [{overrides: [{match: {metric: ALL_METRICS}, disabled: true}]}]") + tel("shop", "n", "metrics: [{overrides: [{match: {metric: REQUEST_COUNT}, disabled: false}]}]"), client: ["REQUEST_COUNT"], server: ["REQUEST_COUNT"] },
  { name: "request durations off on the client side only", yaml: tel("shop", "n", "metrics: [{overrides: [{match: {metric: REQUEST_DURATION, mode: CLIENT}, disabled: true}]}]"), client: ["REQUEST_COUNT", "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS"], server: ALL },
  { name: "no metrics provider by default", mesh: { defaultProviders: { accessLogging: [], metrics: [] } }, client: [], server: [] },
  { name: "a Telemetry names prometheus when the defaults do not", yaml: tel("istio-system", "m", "metrics: [{providers: [{name: prometheus}]}]"), mesh: { defaultProviders: { accessLogging: [], metrics: [] } }, client: ALL, server: ALL },
  { name: "overrides for another provider leave prometheus alone", yaml: tel("istio-system", "m", "metrics: [{providers: [{name: stackdriver}], overrides: [{disabled: true}]}]"), mesh: { defaultProviders: { accessLogging: [], metrics: ["prometheus", "stackdriver"] } }, client: [], server: [] },
];

for (const r of metrics) {
  test(`telemetry metrics: ${r.name}`, () => {
    const snap = snapshotOf(APPS + (r.yaml ?? ""), { ...DEFAULT_MESH, ...r.mesh });
    const plan = telemetryPlan(snap, Registry.of(snap).workload("shop/web")!);
    const on = (side: "CLIENT" | "SERVER") => Object.entries(plan[side].metrics).filter(([, v]) => v).map(([k]) => k);
    assert.deepEqual({ client: on("CLIENT"), server: on("SERVER") }, { client: r.client, server: r.server }, plan.CLIENT.why.join("; "));
  });
}

test("telemetry: bad values are errors naming the field", () => {
  assert.throws(() => snapshotOf(APPS + tel("shop", "x", "accessLogging: [{match: {mode: BOTH}}]")), /spec\.accessLogging\[0\]\.match\.mode: must be one of CLIENT_AND_SERVER, CLIENT, SERVER/);
  assert.throws(() => snapshotOf(APPS + tel("shop", "x", "metrics: [{overrides: [{match: {metric: REQUESTS}}]}]")), /spec\.metrics\[0\]\.overrides\[0\]\.match\.metric: must be one of ALL_METRICS/);
});
