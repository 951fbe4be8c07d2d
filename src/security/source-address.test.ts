// Finding 1: proxies must connect from their workload's own address, or on the
// server side every caller is 127.0.0.1 and `ipBlocks` / `source.ip` policies
// are meaningless (a DENY on a client never matches; an ALLOW on 127.0.0.1 admits all).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../app/server.js";
import { send, type ClientRequest } from "../scenario/client.js";
import { meshYaml } from "../testing/helpers.js";
import { startMesh } from "../testing/mesh.js";

const BASE = meshYaml([{ ns: "a", name: "client" }, { ns: "a", name: "other" }, { ns: "b", name: "web", port: 8080 }]);
const policy = (action: string, blocks: string) => `${BASE}\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: by-ip, namespace: b}\nspec:\n  selector: {matchLabels: {app: web}}\n  action: ${action}\n  rules: [{from: [{source: {ipBlocks: ["${blocks}"]}}]}]`;
const toWeb: ClientRequest = { scheme: "http", host: "web.b", port: 8080, method: "GET", path: "/", headers: {} };

test("source address: the server side sees each caller's workload address, so ipBlocks policies match live", { timeout: 30_000 }, async () => {
  const web = await startApp({ workload: "web", namespace: "b" }, { serve: "http" }, "127.0.0.1");
  const m = await startMesh({ yaml: BASE, proxies: { "a/client": undefined, "a/other": undefined, "b/web": { host: "127.0.0.1", port: web.port } }, options: { outboundPort: 15011 } });
  const status = async (id: string) => {
    const r = await send(toWeb, { proxy: m.outbound(id) });
    return r.kind === "response" ? r.status : r.kind === "error" ? r.error : r.kind;
  };
  try {
    const client = m.reg.workload("a/client")!.address;
    assert.notEqual(client, "127.0.0.1");
    m.push(policy("DENY", `${client}/32`));
    assert.equal(await status("a/client"), 403, "a DENY on the client's address denies it");
    assert.equal(await status("a/other"), 200, "a caller from another address is not denied by it");
    m.push(policy("ALLOW", "127.0.0.1/32"));
    assert.equal(await status("a/client"), 403, "an ALLOW on 127.0.0.1 does not admit a sidecar calling from its own address");
  } finally {
    await m.stop();
    await web.close();
  }
});
