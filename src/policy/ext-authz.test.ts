// What a provider's settings make of the check request and of the authorizer's
// answer (Envoy's ext_authz as Istio configures it), table by table.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ExtensionProvider } from "../api/mesh.js";
import { errorAnswer, grpcAnswer, httpAnswer, httpCheckRequest, settingsOf } from "./ext-authz.js";
import type { CheckInput } from "./facts.js";

const provider = (authz: Partial<NonNullable<ExtensionProvider["authz"]>> = {}, kind: ExtensionProvider["kind"] = "envoyExtAuthzHttp"): ExtensionProvider =>
  ({ name: "p", kind, service: "authz.ns.svc.cluster.local", port: 8000, authz: { ...settingsOf({ name: "d", kind }), ...authz } });
const check: CheckInput = {
  http: true, method: "POST", path: "/api/x?q=1", host: "web.ns", scheme: "http", destinationPort: 8080, destinationPrincipal: "spiffe://cluster.local/ns/ns/sa/web",
  headers: { host: "web.ns", authorization: "Bearer t", "x-ext-authz": "allow", cookie: "secret=1", "x-other": "o" },
};

test("ext-authz: the HTTP check request carries the method, path after pathPrefix, Envoy's own headers and only the allowed ones", () => {
  assert.deepEqual(httpCheckRequest(provider(), check), { method: "POST", path: "/api/x?q=1", headers: { host: "web.ns", authorization: "Bearer t", "content-length": "0" } });
  const r = httpCheckRequest(provider({ pathPrefix: "/check", includeRequestHeadersInCheck: ["x-ext-authz", "x-missing"], includeAdditionalHeadersInCheck: { "x-asked-by": "mesh", host: "overridden" } }), check);
  assert.deepEqual(r, { method: "POST", path: "/check/api/x?q=1", headers: { host: "overridden", authorization: "Bearer t", "x-ext-authz": "allow", "x-asked-by": "mesh", "content-length": "0" } });
});

const cases: { name: string; p: ExtensionProvider; status: number; headers: Record<string, string>; want: Partial<ReturnType<typeof httpAnswer>> }[] = [
  { name: "200 allows; nothing travels unless named", p: provider(), status: 200, headers: { "x-a": "1" }, want: { verdict: "allow", upstream: {}, downstream: {} } },
  { name: "200 allows; named headers go up and down", p: provider({ headersToUpstreamOnAllow: ["x-a"], headersToDownstreamOnAllow: ["x-b"] }), status: 200, headers: { "x-a": "1", "x-b": "2", "x-c": "3" }, want: { verdict: "allow", upstream: { "x-a": "1" }, downstream: { "x-b": "2" } } },
  { name: "another 2xx is a denial (Envoy allows on 200 only)", p: provider(), status: 204, headers: {}, want: { verdict: "deny", status: 204 } },
  { name: "a denial keeps the authorizer's status and every header but framing", p: provider(), status: 401, headers: { "x-why": "w", "content-length": "4", connection: "close" }, want: { verdict: "deny", status: 401, body: "nope", downstream: { "x-why": "w" } } },
  { name: "headersToDownstreamOnDeny narrows them", p: provider({ headersToDownstreamOnDeny: ["x-keep"] }), status: 403, headers: { "x-keep": "k", "x-drop": "d" }, want: { verdict: "deny", status: 403, downstream: { "x-keep": "k" } } },
];
for (const c of cases) {
  test(`ext-authz: HTTP answer: ${c.name}`, () => {
    const a = httpAnswer(c.p, c.status, c.headers, "nope");
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual(a[k as keyof typeof a], v, k);
  });
}

test("ext-authz: gRPC answers: OK puts its headers upstream (and removes what it names); a denial defaults to 403", () => {
  const p = provider({}, "envoyExtAuthzGrpc");
  const ok = grpcAnswer(p, { code: 0, ok: { headers: [["X-Up", "1"]], headersToRemove: ["X-Gone"], responseHeadersToAdd: [["x-down", "2"]] } });
  assert.deepEqual([ok.verdict, ok.upstream, ok.upstreamRemove, ok.downstream], ["allow", { "x-up": "1" }, ["x-gone"], { "x-down": "2" }]);
  const no = grpcAnswer(p, { code: 7, denied: { headers: [], body: "b" } });
  assert.deepEqual([no.verdict, no.status, no.body], ["deny", 403, "b"]);
  const bare = grpcAnswer(p, { code: 16 });
  assert.deepEqual([bare.verdict, bare.status, bare.body], ["deny", 403, ""]);
});

test("ext-authz: an authorizer that cannot be asked: statusOnError (403 by default), or through with failOpen", () => {
  assert.deepEqual([errorAnswer(provider(), "x").verdict, errorAnswer(provider(), "x").status], ["error", 403]);
  assert.equal(errorAnswer(provider({ statusOnError: 503 }), "x").status, 503);
  assert.equal(errorAnswer(provider({ failOpen: true }), "x").verdict, "allow");
});
