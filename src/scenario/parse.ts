// Reads scenario files (../shared/scenarios/FORMAT.md) into typed values,
// with an error naming the file and field for anything malformed.
import { splitAbsoluteForm } from "../policy/path-normalization.js";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { parseDocument } from "yaml";
import { Codes, ZmError, formatIssue, type Issue } from "../api/errors.js";
import { checkHost } from "../api/host.js";
import { Reader } from "../api/reader.js";
import { EXPECTED_ERRORS, type AppSpec, type CertificateSpec, type Expect, type Probe, type Scenario, type Step } from "./model.js";

const TOP = ["name", "description", "include", "mesh", "resources", "certificates", "externals", "apps", "steps"];

export function parseScenarioFile(path: string, cwd = process.cwd()): Scenario {
  return parseScenario(readFileSync(path, "utf8"), path, cwd, []);
}

function displayName(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel.startsWith("..") && rel.split("/").length > 4 ? path : rel || path;
}

export function parseScenario(text: string, path: string, cwd: string, seen: string[]): Scenario {
  const file = displayName(path, cwd);
  const issues: Issue[] = [];
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new ZmError(Codes.YAML, `${file}: YAML syntax error: ${doc.errors[0]!.message.split("\n")[0]}`);
  const r = Reader.root(doc.toJS(), { file, doc: 1 }, issues, true);
  r.object(TOP);
  const isInclude = seen.length > 0;
  const name = r.field("name").string({ required: true }) ?? "";
  const resources: Scenario["resources"] = [];
  const certificates: CertificateSpec[] = [];
  const externals: Scenario["externals"] = [];
  const apps: AppSpec[] = [];
  for (const [i, inc] of r.field("include").strings().entries()) {
    const incPath = resolve(dirname(path), inc);
    if (seen.includes(incPath) || incPath === resolve(path)) {
      r.field("include").error(`"${inc}" includes itself`, `include[${i}]`);
      continue;
    }
    let included: Scenario;
    try {
      included = parseScenario(readFileSync(incPath, "utf8"), incPath, cwd, [...seen, resolve(path)]);
    } catch (e) {
      r.field("include").error(`cannot include "${inc}": ${(e as Error).message}`, `include[${i}]`);
      continue;
    }
    resources.push(...included.resources);
    certificates.push(...included.certificates);
    externals.push(...included.externals);
    apps.push(...included.apps);
  }
  const res = r.field("resources").string();
  if (res !== undefined) resources.push({ text: res, label: `${file} resources` });
  certificates.push(...r.field("certificates").list().map(readCertificate));
  externals.push(...r.field("externals").list().map((e) => {
    e.object(["host", "ports", "files"]);
    const host = e.field("host").string({ required: true }) ?? "";
    const err = host ? checkHost(host, { wildcard: false }) : undefined;
    if (err) e.field("host").error(err);
    const ports = e.field("ports").list().map((p) => p.port({ required: true }) ?? 0);
    const files = e.field("files").present ? e.field("files").stringMap() : undefined;
    for (const path of Object.keys(files ?? {})) if (!path.startsWith("/")) e.field("files").error(`"${path}" must be a path starting with /`);
    return { host, ports: ports.length ? ports : [80, 443], ...(files ? { files } : {}) };
  }));
  apps.push(...r.field("apps").list().map(readApp));
  const steps = isInclude ? [] : r.field("steps").list({ required: true }).map(readStep);
  if (!isInclude && r.field("steps").present && steps.length === 0) r.field("steps").error("must have at least one step");

  const scenario: Scenario = { file, name, description: r.field("description").string(), mesh: r.field("mesh").value ?? undefined, resources, certificates, externals, apps, steps };
  checkReferences(scenario, r);
  const errors = issues.filter((i) => i.severity === "error");
  if (errors.length) throw new ZmError(Codes.SCENARIO, errors.map(formatIssue).join("\n"), errors);
  return scenario;
}

function readCertificate(c: Reader): CertificateSpec {
  c.object(["name", "hosts", "issuer", "secret", "client"]);
  const hosts = c.field("hosts").strings();
  hosts.forEach((h, i) => {
    const err = checkHost(h);
    if (err) c.field("hosts").error(err, `${c.path}.hosts[${i}]`);
  });
  const s = c.field("secret").object(["namespace", "name", "withCa"]);
  const client = c.field("client").bool();
  if (!client && !hosts.length) c.field("hosts").error("a server certificate needs hosts (or set client: true)");
  return {
    name: c.field("name").string({ required: true }) ?? "", hosts, client,
    issuer: c.field("issuer").string() ?? "default",
    secret: s.present ? { namespace: s.field("namespace").string({ required: true }) ?? "", name: s.field("name").string({ required: true }) ?? "", withCa: s.field("withCa").bool() } : undefined,
  };
}

function readApp(a: Reader): AppSpec {
  a.object(["workload", "port", "serve", "certificate", "body"]);
  const workload = a.field("workload").string({ required: true }) ?? "";
  if (workload && !/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(workload)) a.field("workload").error(`"${workload}" must be namespace/name`);
  const serve = a.field("serve").enumOf(["http", "https", "tcp-echo", "ext-authz", "ext-authz-grpc"] as const, "http")!;
  const certificate = a.field("certificate").string();
  if (serve === "https" && !certificate) a.field("certificate").error("serve: https needs a certificate");
  return { workload, port: a.field("port").port({ required: true }) ?? 0, serve, certificate, body: a.field("body").string() };
}

function readStep(s: Reader, index: number): Step {
  s.object(["name", "mesh", "apply", "delete", "probes"]);
  const del = s.field("delete").list().map((d) => {
    d.object(["kind", "namespace", "name"]);
    return { kind: d.field("kind").string({ required: true }) ?? "", namespace: d.field("namespace").string() ?? (d.field("kind").value === "Namespace" ? "" : "default"), name: d.field("name").string({ required: true }) ?? "" };
  });
  return {
    index, name: s.field("name").string() ?? `step ${index + 1}`,
    mesh: s.field("mesh").value ?? undefined,
    apply: s.field("apply").string(),
    delete: del,
    probes: s.field("probes").list().map(readProbe),
  };
}

function readUrl(r: Reader): Probe["url"] {
  const raw = r.string({ required: true }) ?? "";
  try {
    const u = new URL(raw);
    const scheme = u.protocol.replace(":", "");
    if (scheme !== "http" && scheme !== "https" && scheme !== "tcp") {
      r.error(`scheme must be http, https or tcp, got "${scheme}"`);
      return { scheme: "http", host: "", port: 0, path: "/", raw };
    }
    if (scheme === "tcp" && !u.port) r.error("a tcp:// URL needs a port");
    const port = u.port ? Number(u.port) : scheme === "https" ? 443 : 80;
    // The target as written, byte for byte: the URL parser would resolve dot segments and backslashes (FORMAT.md).
    const written = splitAbsoluteForm(raw)?.target ?? "/";
    return { scheme, host: u.hostname.toLowerCase(), port, path: scheme === "tcp" ? "" : written, raw };
  } catch {
    if (raw) r.error(`"${raw}" is not a URL`);
    return { scheme: "http", host: "", port: 0, path: "/", raw };
  }
}

function readExpect(e: Reader): Expect {
  e.object(["status", "bodyContains", "bodyNotContains", "headers", "error", "echo"]);
  if (!e.present) e.error("is required");
  const st = e.field("status");
  let status: number[] | undefined;
  if (st.present) status = Array.isArray(st.value) ? st.list().map((x) => x.int({ min: 100, max: 599 }) ?? 0) : [st.int({ min: 100, max: 599 }) ?? 0];
  const error = e.field("error").enumOf(EXPECTED_ERRORS);
  const expect: Expect = {
    status, error,
    bodyContains: e.field("bodyContains").string(),
    bodyNotContains: bodyNotContains(e.field("bodyNotContains")),
    headers: e.field("headers").present ? e.field("headers").stringMap() : undefined,
    echo: e.field("echo").present ? e.field("echo").bool() : undefined,
  };
  const body = expect.bodyContains !== undefined || expect.bodyNotContains !== undefined;
  if (error && (status || body || expect.headers || expect.echo)) e.error("error cannot be combined with status, bodyContains, bodyNotContains, headers or echo");
  if (!error && !status && !body && !expect.headers && expect.echo === undefined) e.error("must expect something: status, bodyContains, bodyNotContains, headers, error or echo");
  return expect;
}

/** A string, or a list of strings. */
function bodyNotContains(r: Reader): string[] | undefined {
  if (!r.present) return undefined;
  return Array.isArray(r.value) ? r.list().map((x) => x.string({ required: true }) ?? "") : [r.string({ required: true }) ?? ""];
}

function readProbe(p: Reader): Probe {
  p.object(["name", "from", "url", "method", "headers", "body", "via", "ca", "clientCert", "send", "expect", "requestTarget", "target"]);
  const from = p.field("from").string({ required: true }) ?? "";
  if (from && from !== "outside" && from !== "node" && !/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(from)) p.field("from").error(`"${from}" must be "outside", "node" or namespace/name`);
  const targetR = p.field("target");
  const targetS = targetR.string();
  let target: Probe["target"];
  if (targetS !== undefined) {
    const m = /^([a-z0-9-]+\/[a-z0-9.-]+):(\d+)$/.exec(targetS);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) targetR.error(`"${targetS}" must be namespace/workload:port`);
    else target = { workload: m[1]!, port: Number(m[2]) };
    if (from !== "node") targetR.error('target goes with from: node');
  }
  const requestTarget = p.field("requestTarget").string();
  // Node's HTTP client refuses what no HTTP/1.1 request line can carry (spaces, controls): say so here rather than at run time.
  if (requestTarget !== undefined && (!requestTarget || /[^\u0021-\u00ff]/.test(requestTarget))) p.field("requestTarget").error("must be a non-empty request target without spaces or control characters");
  const viaR = p.field("via");
  const viaS = viaR.string();
  let via: Probe["via"];
  if (viaS !== undefined) {
    const m = /^([a-z0-9-]+)\/([a-z0-9.-]+):(\d+)$/.exec(viaS);
    if (!m) viaR.error(`"${viaS}" must be namespace/service:port`);
    else via = { namespace: m[1]!, service: m[2]!, port: Number(m[3]) };
  }
  if (from === "outside" && !via) p.field("via").error('a probe from "outside" needs via');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.field("headers").stringMap())) headers[k.toLowerCase()] = v;
  const url = readUrl(p.field("url"));
  const send = p.field("send").string();
  const expect = readExpect(p.field("expect"));
  if (expect.echo && url.scheme !== "tcp") p.field("expect").field("echo").error("echo applies to tcp:// URLs only");
  return {
    name: p.field("name").string({ required: true }) ?? "", from, url, headers, via, send, expect, path: p.path, requestTarget, target,
    method: (p.field("method").string() ?? "GET").toUpperCase(),
    body: p.field("body").string(),
    ca: p.field("ca").string(),
    clientCert: p.field("clientCert").string(),
  };
}

/** Names used by probes and apps must be declared. */
function checkReferences(s: Scenario, r: Reader): void {
  const certs = new Set(s.certificates.map((c) => c.name));
  const issuers = new Set([...s.certificates.map((c) => c.issuer), "external"]);
  for (const st of s.steps) {
    for (const p of st.probes) {
      if (p.ca && !certs.has(p.ca) && !issuers.has(p.ca)) r.error(`"${p.ca}" is neither a certificate nor a test CA of this scenario`, `${p.path}.ca`);
      if (p.clientCert && !certs.has(p.clientCert)) r.error(`"${p.clientCert}" is not a certificate of this scenario`, `${p.path}.clientCert`);
    }
  }
  s.apps.forEach((a, i) => {
    if (a.certificate && !certs.has(a.certificate)) r.error(`"${a.certificate}" is not a certificate of this scenario`, `apps[${i}].certificate`);
  });
  const names = new Set<string>();
  s.certificates.forEach((c, i) => {
    if (names.has(c.name)) r.error(`certificate "${c.name}" is declared twice`, `certificates[${i}].name`);
    names.add(c.name);
  });
}
