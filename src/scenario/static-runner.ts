// `zeromesh test --static`: every probe decided by the engine alone.
import { splitAbsoluteForm } from "../policy/path-normalization.js";
import { ZmError, errorsOf, formatIssue, type Issue } from "../api/errors.js";
import { DEFAULT_MESH, mergeMeshConfig, type MeshConfig } from "../api/mesh.js";
import { decide } from "../policy/engine.js";
import { settle, worldAnswers } from "../policy/answers.js";
import type { Request, Source } from "../policy/request.js";
import type { World } from "../policy/world.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import { MemoryStore } from "../store/memory.js";
import type { ChangeSet } from "../store/store.js";
import { checkExpect, describeExpect } from "./expect.js";
import type { Probe, Scenario } from "./model.js";
import { buildPki, type TestPki } from "./pki.js";
import type { ProbeResult } from "./report.js";
import { scenarioWorld } from "./world.js";

/** Builds the change a step (or the initial resources) makes, or throws with every error. */
export function stepChange(store: MemoryStore, texts: { text: string; label: string }[], meshPatch: unknown, label: string, extra: ChangeSet["remove"] = []): ChangeSet {
  const base = store.snapshot().mesh;
  const issues: Issue[] = [];
  let mesh: MeshConfig | undefined;
  if (meshPatch !== undefined) mesh = mergeMeshConfig(base, meshPatch, { file: label, doc: 1, path: "mesh" }, issues);
  const parsed = parseTexts(texts.map((t) => ({ text: t.text, file: t.label })), mesh ?? base);
  issues.push(...parsed.issues);
  const errs = errorsOf(issues);
  if (errs.length) throw new ZmError(errs[0]!.code, errs.map(formatIssue).join("\n"), errs);
  return { upsert: parsed.resources, remove: extra, mesh: parsed.mesh ?? mesh, cause: label };
}

export function probeRequest(p: Probe, pki: TestPki): Request {
  const headers = { ...p.headers };
  if (!headers["host"] && p.url.scheme !== "tcp") headers["host"] = p.url.port === (p.url.scheme === "https" ? 443 : 80) ? p.url.host : `${p.url.host}:${p.url.port}`;
  // An absolute-form target names the authority a proxy goes by (Envoy replaces Host with it) and the path.
  const absolute = p.requestTarget !== undefined ? splitAbsoluteForm(p.requestTarget) : undefined;
  if (absolute) headers["host"] = absolute.authority;
  return {
    scheme: p.url.scheme, host: p.url.host, port: p.url.port, method: p.method, path: absolute?.target ?? p.requestTarget ?? p.url.path, headers,
    clientTls: p.url.scheme === "https" ? { trust: p.ca ? pki.trustFor(p.ca) : [], clientCert: p.clientCert ? pki.chainOf(p.clientCert) : undefined } : undefined,
  };
}

/** Where a process on the node connects from (loopback mode: the host's own loopback). */
export const NODE_ADDRESS = "127.0.0.1";

export function probeSource(p: Probe, registry: Registry): Source | string {
  if (p.from === "outside") return { kind: "outside", via: p.via! };
  if (p.from === "node") {
    if (!p.target) return { kind: "node", address: NODE_ADDRESS };
    const w = registry.workload(p.target.workload) ?? registry.instancesOf(p.target.workload)[0];
    return w ? { kind: "node", address: NODE_ADDRESS, target: { workload: w, port: p.target.port } } : `no workload instance ${p.target.workload} exists at this step`;
  }
  const w = registry.instancesOf(p.from)[0];
  if (!w) return `no workload ${p.from} (a Pod or Deployment of that name) exists at this step`;
  return { kind: "workload", workload: w };
}

export async function runStatic(s: Scenario, now = new Date()): Promise<ProbeResult[]> {
  const pki = await buildPki(s, now);
  const world: World = scenarioWorld(s, pki, now);
  const store = new MemoryStore([], DEFAULT_MESH);
  const results: ProbeResult[] = [];
  try {
    const secrets = pki.secretsYaml();
    store.commit(stepChange(store, [...s.resources, ...(secrets ? [{ text: secrets, label: `${s.file} certificates` }] : [])], s.mesh, `${s.file} initial resources`));
  } catch (e) {
    return s.steps.flatMap((st) => st.probes.map((p) => failAll(s, st.name, p.name, e)));
  }
  for (const step of s.steps) {
    try {
      store.commit(stepChange(store, step.apply ? [{ text: step.apply, label: `${s.file} steps[${step.index}].apply` }] : [], step.mesh, `${s.file} steps[${step.index}]`, step.delete));
    } catch (e) {
      results.push(...step.probes.map((p) => failAll(s, step.name, p.name, e)));
      continue;
    }
    const snapshot = store.snapshot();
    const registry = Registry.of(snapshot);
    for (const p of step.probes) {
      const source = probeSource(p, registry);
      if (typeof source === "string") {
        results.push({ file: s.file, step: step.name, probe: p.name, pass: false, expected: describeExpect(p.expect), seen: source });
        continue;
      }
      const req = probeRequest(p, pki);
      const decision = await settle((facts) => decide({ snapshot, world, facts }, source, req), worldAnswers({ snapshot, world }));
      const diff = checkExpect(p.expect, decision.outcome);
      results.push({ file: s.file, step: step.name, probe: p.name, pass: !diff, expected: describeExpect(p.expect), seen: diff ? `${diff} (${decision.reason})` : undefined, trail: decision.trail });
    }
  }
  return results;
}

function failAll(s: Scenario, step: string, probe: string, e: unknown): ProbeResult {
  return { file: s.file, step, probe, pass: false, expected: "a valid configuration", seen: `the configuration was rejected:\n${(e as Error).message.replace(/^/gm, "      ")}` };
}
