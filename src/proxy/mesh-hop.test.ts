// Both ends of a mesh hop with real TLS and the mesh CA: the server side (meshTlsServer) accepts only a mesh
// certificate that names exactly one SPIFFE identity and logs every refusal; the client side (openHop) verifies the
// peer's identity, opens plaintext hops as plaintext, and tells refused, identity, TLS and timeout apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { issueLeaf, loadKeyedCert } from "../ca/x509.js";
import { issueFrom } from "../testing/mesh.js";
import { listen } from "../testing/net.js";
import type { AccessLogEntry, ProxyContext } from "./context.js";
import { principalOf, type Credentials } from "./credentials.js";
import { spiffeOf } from "../wire/protocol.js";
import { meshTlsServer } from "./mesh-tls.js";
import { MESH_ALPN } from "./sniff.js";
import { HopError, openHop, type HopTarget } from "./upstream.js";

const WEB = "spiffe://cluster.local/ns/b/sa/web";
const CLIENT = "spiffe://cluster.local/ns/a/sa/client";

const ca = mkdtempSync(join(tmpdir(), "zm-hop-"));
const creds = async (spiffe: string, ttlMs?: number): Promise<Credentials> => ({ ...(await issueFrom(ca, spiffe, ttlMs)), notAfter: new Date(Date.now() + 3_600_000) });

/** A certificate from the mesh's own root with the SAN we choose (none, or two URIs): what the CA never issues. */
async function fromMeshRoot(uris: string[]): Promise<{ cert: string; key: string }> {
  await issueFrom(ca, WEB); // makes the root when this runs first
  const root = await loadKeyedCert(readFileSync(join(ca, "ca", "root-cert.pem"), "utf8"), readFileSync(join(ca, "ca", "root-key.pem"), "utf8"));
  const now = Date.now();
  const leaf = await issueLeaf(root, { commonName: "odd", uris, client: true, validity: { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) } });
  return { cert: leaf.certPem, key: leaf.keyPem };
}

/** The parts of a proxy's context the mesh TLS server reads; the log is kept to assert on. */
function context(own: Credentials | undefined, logged: AccessLogEntry[]): ProxyContext {
  return {
    id: "b/web-0", credentials: () => own, state: () => undefined, log: (e: AccessLogEntry) => logged.push(e),
    limits: { headersTimeoutMs: 2000, maxConnections: 100, idleMs: 5000, streamIdleMs: 5000 },
  } as unknown as ProxyContext;
}

/** Starts a mesh TLS server; resolves each client's fate: the peer it was handed on as, or "closed". */
async function meshServer(own: Credentials | undefined) {
  const logged: AccessLogEntry[] = [];
  const peers: { spiffe: string; principal: string }[] = [];
  const tls = meshTlsServer(context(own, logged), (s, peer) => {
    peers.push(peer);
    s.end("hello " + peer.principal);
  });
  const raw = createNetServer((s) => tls.emit("connection", s));
  const port = await listen(raw);
  const dial = (opts: { cert?: string; key?: string; ca: string }) =>
    new Promise<string>((resolve) => {
      const s = tlsConnect({ host: "127.0.0.1", port, servername: "outbound_.8080_._.web.b.svc.cluster.local", ALPNProtocols: [MESH_ALPN], checkServerIdentity: () => undefined, ...opts });
      let got = "";
      s.setEncoding("utf8").on("data", (d: string) => (got += d));
      s.on("close", () => resolve(got || "closed"));
      s.on("error", () => {});
    });
  return { logged, peers, dial, close: () => raw.close() };
}

test("mesh TLS server: a mesh certificate is handed on with its SPIFFE identity and principal", async () => {
  const server = await meshServer(await creds(WEB));
  const c = await creds(CLIENT);
  assert.equal(await server.dial({ cert: c.certPem, key: c.keyPem, ca: c.rootPem }), "hello cluster.local/ns/a/sa/client");
  assert.deepEqual(server.peers, [{ spiffe: CLIENT, principal: "cluster.local/ns/a/sa/client" }]);
  server.close();
});

test("mesh TLS server: a certificate of the mesh's own root with no SPIFFE identity, or two, is closed unseen", async () => {
  const server = await meshServer(await creds(WEB));
  const root = (await creds(CLIENT)).rootPem;
  for (const uris of [[], [CLIENT, WEB]]) {
    const odd = await fromMeshRoot(uris);
    assert.equal(await server.dial({ ...odd, ca: root }), "closed", `SAN ${JSON.stringify(uris)}`);
  }
  assert.deepEqual(server.peers, []);
  server.close();
});

test("mesh TLS server: no client certificate is a logged refusal (ZM_DENY_PEER_CERTIFICATE); no own certificate yet refuses everyone", async () => {
  const server = await meshServer(await creds(WEB));
  const c = await creds(CLIENT);
  assert.equal(await server.dial({ ca: c.rootPem }), "closed");
  assert.equal(server.peers.length, 0);
  assert.equal(server.logged.length, 1);
  assert.equal(server.logged[0]!.decision.code, "ZM_DENY_PEER_CERTIFICATE");
  assert.equal(server.logged[0]!.decision.allow, false);
  assert.equal(server.logged[0]!.proxy, "b/web-0");
  assert.equal(server.logged[0]!.protocol, "tls");
  assert.match(server.logged[0]!.error!, /mTLS handshake failed/);
  server.close();

  const unready = await meshServer(undefined);
  assert.equal(await unready.dial({ cert: c.certPem, key: c.keyPem, ca: c.rootPem }), "closed");
  assert.equal(unready.peers.length, 0);
  assert.match(unready.logged[0]!.error ?? "", /no workload certificate yet/);
  unready.close();
});

/** A TLS server with a mesh certificate of `spiffe`; records the SNI each client sent. */
async function peerServer(spiffe: string) {
  const own = await creds(spiffe);
  const snis: string[] = [];
  const srv = createTlsServer({ cert: own.certPem, key: own.keyPem, ca: own.rootPem, requestCert: true, rejectUnauthorized: true, ALPNProtocols: [MESH_ALPN] }, (s: TLSSocket) => {
    snis.push((s as TLSSocket & { servername?: string }).servername ?? "");
    s.end(spiffeOf(s.getPeerX509Certificate()?.raw) ?? "none");
  });
  srv.on("tlsClientError", () => {});
  return { port: await listen(srv), snis, close: () => srv.close() };
}

const target = (port: number, over: Partial<HopTarget> = {}): HopTarget => ({ host: "127.0.0.1", port, mtls: true, identities: [WEB], serviceHost: "web.b.svc.cluster.local", servicePort: 8080, ...over });
const hopError = (p: Promise<unknown>) => p.then(() => "connected", (e: unknown) => (e instanceof HopError ? e.kind : `not a HopError: ${String(e)}`));
const readAll = (s: Socket) => new Promise<string>((resolve) => {
  let got = "";
  s.setEncoding("utf8").on("data", (d: string) => (got += d)).on("end", () => resolve(got));
});

test("openHop: mTLS to a peer of an expected identity, with Istio's SNI; any other identity is an identity error", async () => {
  const web = await peerServer(WEB);
  const mine = await creds(CLIENT);
  const sock = await openHop(target(web.port), mine);
  assert.equal("encrypted" in sock && sock.encrypted, true);
  assert.equal(await readAll(sock), CLIENT); // the peer saw our certificate
  assert.deepEqual(web.snis, ["outbound_.8080_._.web.b.svc.cluster.local"]);
  await readAll(await openHop(target(web.port, { serviceHost: undefined }), mine));
  assert.equal(web.snis[1], "outbound_.8080_._.unknown");
  // Any identity will do when the service names none; one it does not name will not.
  assert.equal(await readAll(await openHop(target(web.port, { identities: [] }), mine)), CLIENT);
  assert.equal(await hopError(openHop(target(web.port, { identities: ["spiffe://cluster.local/ns/b/sa/other"] }), mine)), "identity");
  // No certificate of our own yet: no mesh hop at all.
  assert.equal(await hopError(openHop(target(web.port), undefined)), "tls");
  web.close();
});

test("openHop: a peer certificate from another CA is a TLS error; a closed port is refused; silence times out", async () => {
  const foreign = mkdtempSync(join(tmpdir(), "zm-hop-foreign-"));
  const own = await issueFrom(foreign, WEB);
  const srv = createTlsServer({ cert: own.certPem, key: own.keyPem, ALPNProtocols: [MESH_ALPN] }, (s) => s.end("x"));
  srv.on("tlsClientError", () => {});
  const port = await listen(srv);
  assert.equal(await hopError(openHop(target(port), await creds(CLIENT))), "tls");
  srv.close();

  const closed = createNetServer();
  const closedPort = await listen(closed);
  closed.close();
  assert.equal(await hopError(openHop(target(closedPort), await creds(CLIENT))), "refused");
  assert.equal(await hopError(openHop(target(closedPort, { mtls: false }), undefined)), "refused");

  // A listener that accepts and never answers the handshake.
  const held: Socket[] = [];
  const silent = createNetServer((s) => held.push(s));
  const silentPort = await listen(silent);
  assert.equal(await hopError(openHop(target(silentPort), await creds(CLIENT), undefined, 200)), "timeout");
  held.forEach((s) => s.destroy());
  silent.close();
});

test("openHop: a plaintext hop is a plain TCP connection that carries bytes both ways, and stays open past the connect timeout", async () => {
  const echo = createNetServer((s) => s.pipe(s));
  const port = await listen(echo);
  const sock = await openHop(target(port, { mtls: false }), undefined, undefined, 150);
  assert.equal("encrypted" in sock, false);
  await new Promise((r) => setTimeout(r, 300)); // past timeoutMs: the connect timer must have been cleared
  assert.equal(sock.destroyed, false);
  sock.end("ping");
  assert.equal(await readAll(sock), "ping");
  echo.close();
});

test("spiffeOf and principalOf: exactly one SPIFFE URI is an identity; none, two, or no certificate is none", async () => {
  const one = await creds(WEB);
  const der = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
  assert.equal(spiffeOf(der(one.certPem)), WEB);
  assert.equal(spiffeOf(der((await fromMeshRoot([CLIENT, WEB])).cert)), undefined);
  assert.equal(spiffeOf(der((await fromMeshRoot([])).cert)), undefined);
  assert.equal(spiffeOf(der((await fromMeshRoot(["https://example.com/x"])).cert)), undefined);
  assert.equal(spiffeOf(undefined), undefined);
  assert.equal(spiffeOf(Buffer.alloc(0)), undefined);
  assert.equal(principalOf(WEB), "cluster.local/ns/b/sa/web");
  assert.equal(principalOf("cluster.local/ns/b/sa/web"), "cluster.local/ns/b/sa/web");
  assert.equal(principalOf("x/spiffe://y"), "x/spiffe://y");
});
