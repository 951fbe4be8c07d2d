// The dashboard in a real browser (Debian's chromium driven by playwright-core) over a real control plane with
// proxies that carried real traffic: the graph, a workload, the denials with their trail, egress, and "can A reach
// B?". Also who may use it: the session's token, the Host and Origin checks. Screenshots go to test-artifacts/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { UI_DIR } from "../cli/dashboard.js";
import { send } from "../scenario/client.js";
import { controlFixture, waitUntil } from "../testing/control-plane.js";
import { Dashboard } from "./server.js";
import { SESSION_HEADER } from "./session.js";

const CHROMIUM = "/usr/bin/chromium";
/** As the machine's notes say: headless, no sandbox as root, and nothing that reaches for the network. */
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const ARTIFACTS = join(process.cwd(), "test-artifacts");

const EXTRA = [
  "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: no-admin, namespace: b}\nspec: {action: DENY, rules: [{to: [{operation: {paths: [\"/admin*\"]}}]}]}",
  "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: istio-system}\nspec: {egress: [{hosts: [\"*/*\"]}], outboundTrafficPolicy: {mode: REGISTRY_ONLY}}",
].map((d) => `\n---\n${d}\n`).join("");

async function meshWithTraffic() {
  const f = await controlFixture({ extraYaml: EXTRA });
  const cp = await f.open();
  const web = f.agent("b/web", cp.address, f.rootPem, cp.issueBootstrap("b/web"));
  const client = f.agent("a/client", cp.address, f.rootPem, cp.issueBootstrap("a/client"));
  await Promise.all([web.start(), client.start()]);
  await waitUntil(() => cp.synced(["b/web", "a/client"]));
  const [host, port] = client.sidecar.outboundAddress.split(":");
  const get = (path: string, to = "web.b", toPort = 8080) => send({ scheme: "http", host: to, port: toPort, method: "GET", path, headers: {} }, { proxy: { host: host!, port: Number(port) } });
  return { f, cp, web, client, get };
}

test("dashboard: only calls carrying the session's token are answered, from the dashboard's own Host and origin", { timeout: 60_000 }, async () => {
  const { f, cp, web, client } = await meshWithTraffic();
  const dashboard = new Dashboard({ admin: f.admin(cp), uiDir: UI_DIR, port: 0 });
  await dashboard.start();
  try {
    const base = `http://127.0.0.1:${dashboard.port}`;
    assert.match(dashboard.url, new RegExp(`^${base}/#token=[A-Za-z0-9_-]{32}$`), "the token is in the fragment: never sent to a server, never in a Referer");
    const token = dashboard.url.slice(dashboard.url.indexOf("#token=") + 7);
    assert.equal((await fetch(`${base}/api/workloads`)).status, 401, "no token");
    assert.equal((await fetch(`${base}/api/workloads`, { headers: { [SESSION_HEADER]: `${token.slice(1)}x` } })).status, 401, "a wrong token");
    assert.equal((await fetch(`${base}/api/workloads`, { headers: { cookie: `zm_dashboard=${token}` } })).status, 401, "the token as a cookie (which a browser would send to any port of 127.0.0.1)");
    const session = { [SESSION_HEADER]: token };
    const workloads = await fetch(`${base}/api/workloads`, { headers: session });
    assert.equal(workloads.status, 200);
    assert.equal(workloads.headers.get("set-cookie"), null);
    assert.deepEqual(((await workloads.json()) as { id: string }[]).map((w) => w.id).sort(), ["a/client", "b/web"]);
    // A name rebound to 127.0.0.1 by another site is refused, token or not.
    const rebound = await new Promise<number>((resolve, reject) => {
      import("node:http").then(({ request }) => request({ host: "127.0.0.1", port: dashboard.port, path: "/api/workloads", headers: { ...session, host: `evil.example:${dashboard.port}` } }, (r) => resolve(r.statusCode ?? 0)).on("error", reject).end(), reject);
    });
    assert.equal(rebound, 403);
    const check = { from: "a/client", to: "http://web.b:8080/admin/x", method: "GET", headers: [] };
    const foreign = await fetch(`${base}/api/check`, { method: "POST", headers: { ...session, "content-type": "application/json", origin: "http://evil.example" }, body: JSON.stringify(check) });
    assert.equal(foreign.status, 403, "a POST from another origin");
    const own = await fetch(`${base}/api/check`, { method: "POST", headers: { ...session, "content-type": "application/json", origin: base }, body: JSON.stringify(check) });
    const decision = (await own.json()) as { allow: boolean; policy: string };
    assert.deepEqual([own.status, decision.allow, decision.policy], [200, false, "AuthorizationPolicy/b/no-admin"]);
    assert.equal((await fetch(`${base}/api/check`, { method: "POST", headers: { ...session, "content-type": "application/json", origin: base }, body: "{not json" })).status, 400);
    assert.equal((await fetch(`${base}/api/check`, { method: "POST", headers: { ...session, "content-type": "application/json", origin: base }, body: JSON.stringify({ ...check, headers: ["x: ".padEnd(100_000, "y")] }) })).status, 413, "past 64 KB nothing more is read");
    assert.equal((await fetch(`${base}/../../etc/passwd`)).status, 404);
    assert.equal((await fetch(`${base}/app.js`)).headers.get("content-type"), "text/javascript; charset=utf-8", "the bundle is built and served");
  } finally {
    await dashboard.stop();
    await f.stop([web, client], cp);
  }
});

const hasChromium = existsSync(CHROMIUM);

test("dashboard in a real browser: graph, workload, denials with their trail, egress, and can A reach B", {
  timeout: 180_000,
  skip: hasChromium ? false : `no browser at ${CHROMIUM} (Debian package chromium; .ci/run installs it)`,
}, async () => {
  const { chromium } = await import("playwright-core");
  const { f, cp, web, client, get } = await meshWithTraffic();
  const dashboard = new Dashboard({ admin: f.admin(cp), uiDir: UI_DIR, port: 0, sampleMs: 300 });
  await dashboard.start();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  mkdirSync(ARTIFACTS, { recursive: true });
  try {
    // Traffic of every kind the pages show: answered, failing, denied by policy, and blocked egress.
    const answers = [];
    for (const path of ["/", "/", "/", "/", "/", "/", "/status/503", "/status/503", "/admin/users", "/admin/keys"]) answers.push(await get(path));
    answers.push(await get("/", "example.com", 80));
    assert.deepEqual(answers.map((a) => (a.kind === "response" ? a.status : a.kind)), [200, 200, 200, 200, 200, 200, 503, 503, 403, 403, 502]);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    await page.goto(dashboard.url);
    await page.waitForFunction(() => location.hash === "#/graph");
    assert.equal(page.url().includes("token"), false, "the token leaves the address bar");

    // The graph: both workloads and the outside host REGISTRY_ONLY blocked, edges with their counts and mTLS.
    await page.waitForSelector('#graph[data-edges="2"]', { timeout: 30_000 });
    const row = page.locator('#edges tr[data-edge="a/client -> b/web"]');
    await waitUntil(async () => (await row.locator(".total").textContent()) === "10", 20_000);
    assert.match((await row.locator(".errors").textContent())!, /^2 /, "the two 503s are errors; the 403s are not");
    assert.equal(await row.locator(".mtls").textContent(), "mTLS");
    assert.equal(await page.locator('#edges tr[data-edge="a/client -> BlackHoleCluster"] .mtls').textContent(), "plaintext");
    assert.equal(await page.locator("#graph").getAttribute("data-nodes"), "3");
    assert.equal(await page.locator("#graph canvas").count() > 0, true, "cytoscape drew it");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-graph.png"), fullPage: true });

    // One workload: identity, scope, mTLS, the policy that applies and what it says.
    await page.goto(`http://127.0.0.1:${dashboard.port}/#/workload/b/web`);
    await page.waitForSelector("#policies");
    assert.match((await page.locator("#identity").textContent())!, /spiffe:\/\/cluster\.local\/ns\/b\/sa\/web/);
    assert.match((await page.locator("#identity").textContent())!, /SYNCED/);
    assert.match((await page.locator("#scope").textContent())!, /Sidecar\/istio-system\/default.*REGISTRY_ONLY/s);
    assert.match((await page.locator("#policies").textContent())!, /AuthorizationPolicy\/b\/no-admin\s*DENY.*\/admin\*/s);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-workload.png"), fullPage: true });

    // Denials: the policy and rule that decided, the caller's identity, and the trail on a click.
    await page.click("text=Denials");
    const denial = page.locator("#denials tr.denial", { hasText: "no-admin" });
    await denial.first().waitFor({ timeout: 20_000 });
    const text = (await denial.first().textContent())!;
    assert.match(text, /b\/web.*inbound.*spiffe:\/\/cluster\.local\/ns\/a\/sa\/client.*HTTP 403.*AuthorizationPolicy\/b\/no-admin rules\[0\]/s);
    // Each proxy's denials arrive with its own sample, so the egress row may come a sample after the inbound one.
    const egressDenial = /a\/client.*outbound.*example\.com.*Sidecar\/istio-system\/default/s;
    await waitUntil(async () => egressDenial.test((await page.locator("#denials").textContent()) ?? ""), 20_000).catch(() => undefined);
    assert.match((await page.locator("#denials").textContent())!, egressDenial, "blocked egress is a denial too");
    await denial.first().click();
    await page.waitForSelector("table.trail");
    assert.match((await page.locator("table.trail").first().textContent())!, /authz.*AuthorizationPolicy\/b\/no-admin/s);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-denials.png"), fullPage: true });

    // Egress: what was blocked, and what a workload may reach.
    await page.click("text=Egress");
    await page.waitForSelector("#blocked tr td");
    assert.match((await page.locator("#blocked").textContent())!, /a\/client.*http example\.com:80.*Sidecar\/istio-system\/default/s);
    await page.waitForSelector("table.reach");
    assert.match((await page.locator("table.reach").textContent())!, /web\.b\.svc\.cluster\.local:8080.*yes/s);

    // Can A reach B: the same decision as zeromesh check.
    await page.click("text=Can A reach B?");
    await page.locator("#from option", { hasText: "a/client" }).waitFor({ state: "attached" });
    await page.selectOption("#from", "a/client");
    await page.fill("#to", "http://web.b:8080/admin/x");
    await page.click("button[type=submit]");
    await page.waitForSelector("#verdict");
    assert.match((await page.locator("#verdict").textContent())!, /DENIED.*HTTP 403.*ZM_DENY_AUTHZ.*AuthorizationPolicy\/b\/no-admin/s);
    await page.fill("#to", "http://web.b:8080/");
    await page.click("button[type=submit]");
    await page.waitForSelector("#verdict .ok");
    assert.match((await page.locator("#verdict").textContent())!, /ALLOWED/);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-check.png"), fullPage: true });

    assert.deepEqual(problems, [], "no script errors in the page");
  } finally {
    await browser.close();
    await dashboard.stop();
    await f.stop([web, client], cp);
  }
});
