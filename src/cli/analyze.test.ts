// zeromesh analyze as a user runs it: files in, istioctl's lines, JSON and exit codes out; and on a running control
// plane, through the admin API.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT } from "../paths.js";
import { run } from "./main.js";
import { controlFixture, io } from "../testing/control-plane.js";

const BIN = join(PROJECT_ROOT, "dist", "cli", "main.js");
const zeromesh = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", cwd: PROJECT_ROOT });

const UNVERIFIED = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: db-tls, namespace: shop}\nspec:\n  host: db.example.com\n  trafficPolicy: {tls: {mode: SIMPLE}}\n";
const DB_ENTRY = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db, namespace: shop}\nspec: {hosts: [db.example.com], ports: [{number: 443, name: https, protocol: HTTPS}], resolution: DNS}\n";
const BAD_GATEWAY = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: bad, namespace: edge}\nspec:\n  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*\"], tls: {mode: NOPE}}]\n";

test("analyze: files give istioctl's lines (level, code, object, file:line, Istio's words); a warning exits 0, an error 79", () => {
  const dir = mkdtempSync(join(tmpdir(), "zm-analyze-"));
  writeFileSync(join(dir, "dr.yaml"), UNVERIFIED);
  const warned = zeromesh("analyze", join(dir, "dr.yaml"));
  assert.equal(warned.status, 0, warned.stderr);
  assert.deepEqual(warned.stdout.trim().split("\n"), [
    `Warning [IST0128] (DestinationRule shop/db-tls ${join(dir, "dr.yaml")}:1) DestinationRule shop/db-tls in namespace shop has TLS mode set to SIMPLE but no caCertificates are set to validate server identity for host: db.example.com`,
    `Warning [IST0174] (DestinationRule shop/db-tls ${join(dir, "dr.yaml")}:1) The host db.example.com defined in the DestinationRule does not match any services in the mesh.`,
  ]);
  assert.equal(zeromesh("analyze", "--failure-threshold", "Warning", join(dir, "dr.yaml")).status, 79);
  assert.equal(zeromesh("analyze", "--output-threshold", "Error", join(dir, "dr.yaml")).stdout.trim(), "", "below the output threshold: not shown");

  writeFileSync(join(dir, "gw.yaml"), `# a gateway\n${BAD_GATEWAY}`);
  const failed = zeromesh("analyze", "-f", dir, "-o", "json");
  assert.equal(failed.status, 79);
  const messages = JSON.parse(failed.stdout) as { code: string; level: string; origin: string; reference: string; documentationUrl: string }[];
  assert.deepEqual(messages.map((m) => `${m.level} ${m.code} ${m.origin} ${m.reference.slice(dir.length + 1)}`), ["Error IST0101 Gateway edge/bad gw.yaml:2", "Error IST0106 Gateway edge/bad gw.yaml:2", "Warning IST0128 DestinationRule shop/db-tls dr.yaml:1", "Warning IST0174 DestinationRule shop/db-tls dr.yaml:1"]);
  assert.equal(messages[1]!.documentationUrl, "https://istio.io/latest/docs/reference/config/analysis/ist0106/");

  writeFileSync(join(dir, "ok.yaml"), `${UNVERIFIED.replace("{mode: SIMPLE}", "{mode: SIMPLE, caCertificates: /etc/ca.pem}")}---\n${DB_ENTRY}`);
  const clean = zeromesh("analyze", join(dir, "ok.yaml"));
  assert.equal(clean.status, 0);
  assert.match(clean.stderr, /✔ No validation issues found when analyzing .*ok\.yaml\./);
  assert.equal(zeromesh("analyze", "-o", "xml", join(dir, "ok.yaml")).status, 2);
  assert.match(zeromesh("analyze", "--list-analyzers").stdout, /destinationrule\.CaCertificateAnalyzer/);
});

test("analyze: without files, the running control plane's configuration (one namespace, or -A)", { timeout: 60_000 }, async () => {
  const f = await controlFixture({ extraYaml: `\n---\n${UNVERIFIED}\n---\n${UNVERIFIED.replace("namespace: shop", "namespace: default")}` });
  const cp = await f.open();
  try {
    f.cliEnv(cp);
    const all = io();
    assert.equal(await run(["analyze", "-A"], all.io), 0);
    assert.deepEqual(all.out.join("\n").split("\n").map((l) => l.replace(/ \(DestinationRule (\S+) zeromesh control plane\).*/, " $1")), [
      "Warning [IST0128] default/db-tls", "Warning [IST0174] default/db-tls", "Warning [IST0128] shop/db-tls", "Warning [IST0174] shop/db-tls",
    ]);
    const one = io();
    assert.equal(await run(["analyze", "-n", "shop"], one.io), 0);
    assert.deepEqual(one.out.join("\n").split("\n").map((l) => /\((\S+ \S+)/.exec(l)?.[1]), ["DestinationRule shop/db-tls", "DestinationRule shop/db-tls"]);
  } finally {
    await f.stop([], cp);
  }
});
