// A gateway workload handling one connection: server by port and SNI, TLS
// termination with the server's credential, then VirtualService routing.
import { atTheEdge } from "./edge-headers.js";
import { normalizeAtProxy } from "./path-normalization.js";
import { hostWithoutPort } from "../api/host.js";
import type { Secret } from "../api/types.js";
import type { Workload } from "../registry/model.js";
import { hopEnv, newWalk, proxyLabel, type Env, type Sender, type Walk } from "./context.js";
import { PolicyIndex } from "./index.js";
import type { Request } from "./request.js";
import { DenyCodes, type Decision } from "./decision.js";
import { pickServerBySni, pickVirtualHost, serverKind, serverName, serversOn, serverServesHost, virtualHosts, type BoundServer } from "./gateway.js";
import { authorize } from "./authorize.js";
import type { Arrival } from "./inbound.js";
import { applyHttpRoute, followDestinations } from "./mesh-routing.js";
import { requestAuthority } from "./request.js";
import { matchHttpRoute, matchTcpRoute, matchTlsRoute, vsName } from "./routing.js";
import { cipherCheck, clientCertAccepted, verifyClientCert, verifyServerCert, versionsOverlap } from "./tls.js";

export function handleAtGateway(walk: Walk, gw: Workload, servicePort: number, targetPort: number, arrived: Arrival): Decision {
  const at = proxyLabel(gw);
  const bad = normalizeAtProxy(walk, at);
  if (bad) return bad;
  const arrival = atTheEdge(walk, arrived);
  const { index, trail, req } = walk;
  // AuthorizationPolicy selecting the gateway runs before routing (L7 on HTTP servers, L4 otherwise).
  const authz = (http: boolean) => authorize(walk, gw, targetPort, arrival, http);
  const servers = serversOn(index, gw, servicePort, targetPort);
  if (!servers.length) {
    trail.add({ stage: "gateway", at, message: `no Gateway server selects this gateway on port ${servicePort}` });
    return trail.end({ kind: "error", error: "reset" }, `${gw.id} has no listener for port ${servicePort}`, DenyCodes.NO_LISTENER);
  }
  const sender: Sender = { proxy: gw, label: at };
  const byKind = (k: ReturnType<typeof serverKind>[]) => servers.filter((b) => k.includes(serverKind(b.server)));

  if (req.scheme === "https") {
    const tlsServers = byKind(["https-terminate", "tls-terminate", "passthrough"]);
    if (!tlsServers.length) {
      trail.add({ stage: "gateway", at, message: `port ${servicePort} has no TLS server (${servers.map(serverName).join(", ")})` });
      return trail.end({ kind: "error", error: "tls" }, `port ${servicePort} of ${gw.id} does not speak TLS`, DenyCodes.TLS);
    }
    const chosen = pickServerBySni(tlsServers, req.host);
    if (!chosen) {
      trail.add({ stage: "gateway", at, message: `no server on port ${servicePort} matches SNI "${req.host}"` });
      return trail.end({ kind: "error", error: "tls" }, `no Gateway server for SNI ${req.host} on port ${servicePort}`, DenyCodes.TLS);
    }
    trail.add({ stage: "gateway", at, message: `SNI "${req.host}" selects ${serverName(chosen)}`, policy: `Gateway/${chosen.gateway.meta.namespace}/${chosen.gateway.meta.name}`, rule: `servers[${chosen.server.index}]` });
    if (serverKind(chosen.server) === "passthrough") return authz(false) ?? passthrough(walk, sender, chosen, servicePort);
    const terminated = terminate(walk, gw, chosen);
    if (terminated) return terminated;
    if (serverKind(chosen.server) === "tls-terminate") return authz(false) ?? tcpRoute(walk, sender, [chosen], servicePort);
    return authz(true) ?? httpRoute(walk, sender, [chosen], servicePort, true);
  }

  if (req.scheme === "http") {
    const httpServers = byKind(["http"]);
    if (!httpServers.length) {
      const tcp = byKind(["tcp"]);
      if (tcp.length) return authz(false) ?? tcpRoute(walk, sender, tcp, servicePort);
      trail.add({ stage: "gateway", at, message: `port ${servicePort} expects TLS; plaintext is dropped` });
      return trail.end({ kind: "error", error: "reset" }, `port ${servicePort} of ${gw.id} serves only TLS`, DenyCodes.NO_LISTENER);
    }
    const denied = authz(true);
    if (denied) return denied;
    const host = hostWithoutPort(requestAuthority(req));
    const redirecting = httpServers.find((b) => b.server.tls?.httpsRedirect && serverServesHost(b.server, host));
    if (redirecting) {
      const location = `https://${host}${req.path}`;
      trail.add({ stage: "gateway", at, message: `${serverName(redirecting)} has httpsRedirect: 301 to ${location}`, policy: `Gateway/${redirecting.gateway.meta.namespace}/${redirecting.gateway.meta.name}`, rule: `servers[${redirecting.server.index}].tls.httpsRedirect` });
      return trail.allow({ kind: "response", status: 301, headers: { location } }, "redirected to HTTPS by the Gateway");
    }
    return httpRoute(walk, sender, httpServers, servicePort, false);
  }

  const tcpServers = byKind(["tcp"]);
  if (!tcpServers.length) {
    trail.add({ stage: "gateway", at, message: `port ${servicePort} has no TCP server` });
    return trail.end({ kind: "error", error: "reset" }, `no TCP server on port ${servicePort} of ${gw.id}`, DenyCodes.NO_LISTENER);
  }
  return authz(false) ?? tcpRoute(walk, sender, tcpServers, servicePort);
}

function secretOf(walk: Walk, ns: string, name: string): Secret | undefined {
  return walk.env.snapshot.get("Secret", ns, name);
}

/** TLS termination: the server's certificate from credentialName, client verification for MUTUAL. Returns a decision only on failure. */
function terminate(walk: Walk, gw: Workload, b: BoundServer): Decision | undefined {
  const { trail, req, env } = walk;
  // A live gateway's TLS stack performs the handshake itself (see selectTlsServer).
  if (env.scope === "hop") return undefined;
  const at = proxyLabel(gw);
  const tls = b.server.tls!;
  const versions = versionsOverlap(tls.minProtocolVersion, tls.maxProtocolVersion);
  if (!versions.ok) {
    trail.add({ stage: "tls", at, message: versions.reason });
    return trail.end({ kind: "error", error: "tls" }, versions.reason, DenyCodes.TLS);
  }
  const cred = tls.credentialName ? secretOf(walk, gw.namespace, tls.credentialName) : undefined;
  if (!cred?.tls?.chain.length) {
    const msg = `credential "${tls.credentialName ?? "(none)"}" is not a TLS Secret in namespace ${gw.namespace}`;
    trail.add({ stage: "tls", at, message: msg });
    return trail.end({ kind: "error", error: "tls" }, `${serverName(b)}: ${msg}`, DenyCodes.TLS);
  }
  const ciphers = cipherCheck(tls.cipherSuites, tls.maxProtocolVersion, cred.tls.chain[0]!.publicKey.asymmetricKeyType);
  if (!ciphers.ok) {
    trail.add({ stage: "tls", at, message: ciphers.reason });
    return trail.end({ kind: "error", error: "tls" }, ciphers.reason, DenyCodes.TLS);
  }
  const check = req.clientTls?.insecure ? { ok: true, reason: "verification skipped" } : verifyServerCert(cred.tls.chain, req.clientTls?.trust ?? [], req.host, env.world.now);
  trail.add({ stage: "tls", at, message: `presents Secret ${gw.namespace}/${tls.credentialName}; client verification: ${check.reason}` });
  if (!check.ok) return trail.end({ kind: "error", error: "tls" }, `the client rejects the gateway's certificate: ${check.reason}`, DenyCodes.TLS);
  if (tls.mode === "MUTUAL" || tls.mode === "OPTIONAL_MUTUAL") {
    const roots = cred.tls.ca.length ? cred.tls.ca : secretOf(walk, gw.namespace, `${tls.credentialName}-cacert`)?.tls?.ca ?? [];
    if (tls.mode === "OPTIONAL_MUTUAL" && !req.clientTls?.clientCert?.length) return undefined;
    const client = verifyClientCert(req.clientTls?.clientCert, roots, env.world.now);
    trail.add({ stage: "tls", at, message: `MUTUAL: ${client.reason}` });
    const rules = client.ok ? clientCertAccepted(req.clientTls!.clientCert![0]!, tls) : client;
    if (!rules.ok) {
      if (client.ok) trail.add({ stage: "tls", at, message: rules.reason });
      return trail.end({ kind: "error", error: "tls" }, `MUTUAL TLS: ${rules.reason}`, DenyCodes.CLIENT_CERT);
    }
  }
  return undefined;
}

function httpRoute(walk: Walk, sender: Sender, servers: BoundServer[], port: number, tls: boolean): Decision {
  const { index, trail, req } = walk;
  const vhosts = servers.flatMap((b) => virtualHosts(index, b));
  const authority = requestAuthority(req);
  const vh = pickVirtualHost(vhosts, authority);
  if (!vh) {
    trail.add({ stage: "route", at: sender.label, message: `no VirtualService bound to ${servers.map(serverName).join(", ")} serves host "${hostWithoutPort(authority)}"${vhosts.length ? ` (hosts: ${[...new Set(vhosts.map((v) => v.domain))].join(", ")})` : ""}` });
    return trail.end({ kind: "response", status: 404, body: "" }, `no route for host ${hostWithoutPort(authority)} at the gateway`, DenyCodes.NO_ROUTE);
  }
  const gwRef = `${vh.bound.gateway.meta.namespace}/${vh.bound.gateway.meta.name}`;
  trail.add({ stage: "gateway", at: sender.label, message: `host "${hostWithoutPort(authority)}" is served by ${serverName(vh.bound)} through ${vsName(vh.vs)} (virtual host "${vh.domain}")`, policy: `Gateway/${gwRef}`, rule: `servers[${vh.bound.server.index}]` });
  const m = matchHttpRoute(vh.vs, { authority, port, method: req.method, path: req.path, scheme: tls ? "https" : "http", headers: req.headers, gateway: gwRef, claims: walk.endUser?.claims });
  if (!m) {
    trail.add({ stage: "route", at: sender.label, message: `${vsName(vh.vs)} serves "${vh.domain}" but no http route matches ${req.method} ${req.path}`, policy: vsName(vh.vs) });
    return trail.end({ kind: "response", status: 404, body: "" }, `no route in ${vsName(vh.vs)} matches`, DenyCodes.NO_ROUTE, vsName(vh.vs));
  }
  // Inside the mesh the request continues as plain HTTP over mTLS.
  if (tls) walk.req = { ...req, scheme: "http" };
  return applyHttpRoute(walk, sender, vh.vs, m.route, m.match, port);
}

function passthrough(walk: Walk, sender: Sender, b: BoundServer, port: number): Decision {
  const { index, trail, req } = walk;
  const gwRef = `${b.gateway.meta.namespace}/${b.gateway.meta.name}`;
  for (const { vs } of virtualHosts(index, b)) {
    const route = matchTlsRoute(vs, req.host, port, gwRef);
    if (route) return followDestinations(walk, sender, vs, route.route, port, `tls[${route.index}]`);
  }
  trail.add({ stage: "route", at: sender.label, message: `no VirtualService tls route for SNI "${req.host}" on ${serverName(b)}` });
  return trail.end({ kind: "error", error: "tls" }, `no tls route for SNI ${req.host}`, DenyCodes.NO_ROUTE);
}

function tcpRoute(walk: Walk, sender: Sender, servers: BoundServer[], port: number): Decision {
  const { index, trail } = walk;
  for (const b of servers) {
    const gwRef = `${b.gateway.meta.namespace}/${b.gateway.meta.name}`;
    for (const vs of index.virtualServices) {
      if (!virtualHosts(index, b).some((v) => v.vs === vs)) continue;
      const route = matchTcpRoute(vs, port, gwRef);
      if (route) return followDestinations(walk, sender, vs, route.route, port, `tcp[${route.index}]`);
    }
  }
  trail.add({ stage: "route", at: sender.label, message: `no VirtualService tcp route on ${servers.map(serverName).join(", ")}` });
  return trail.end({ kind: "error", error: "reset" }, `no tcp route on port ${port}`, DenyCodes.NO_ROUTE);
}

export interface TlsServerChoice {
  bound: BoundServer;
  kind: "passthrough" | "https-terminate" | "tls-terminate";
  /** For terminating servers: the credential Secret (certificate chain, key, client CA). */
  credential?: { certPem: string; keyPem: string; caPem?: string };
  /** The server asks for a client certificate (MUTUAL, OPTIONAL_MUTUAL) and verifies one that is presented. */
  mutual: boolean;
  /** OPTIONAL_MUTUAL: a client that presents none is let in. */
  clientCertOptional: boolean;
}

/** Which TLS server of a gateway port an SNI selects, with what it needs to terminate (for the live gateway). */
export function selectTlsServer(env: Env, gw: Workload, servicePort: number, targetPort: number, sni: string): TlsServerChoice | undefined {
  const index = PolicyIndex.of(env.snapshot);
  const servers = serversOn(index, gw, servicePort, targetPort).filter((b) => serverKind(b.server) !== "http" && serverKind(b.server) !== "tcp");
  const bound = pickServerBySni(servers, sni);
  if (!bound) return undefined;
  const kind = serverKind(bound.server) as TlsServerChoice["kind"];
  if (kind === "passthrough") return { bound, kind, mutual: false, clientCertOptional: false };
  const tls = bound.server.tls!;
  const secret = tls.credentialName ? env.snapshot.get("Secret", gw.namespace, tls.credentialName) : undefined;
  const ca = secret?.tls?.caPem ?? (tls.credentialName ? env.snapshot.get("Secret", gw.namespace, `${tls.credentialName}-cacert`)?.tls?.caPem : undefined);
  const credential = secret?.tls?.certPem && secret.tls.keyPem ? { certPem: secret.tls.certPem, keyPem: secret.tls.keyPem, caPem: ca } : undefined;
  return { bound, kind, credential, mutual: tls.mode === "MUTUAL" || tls.mode === "OPTIONAL_MUTUAL", clientCertOptional: tls.mode === "OPTIONAL_MUTUAL" };
}

/** A request or connection that arrived through a TLS server the live gateway already terminated. */
export function decideAfterTermination(env: Env, gw: Workload, servicePort: number, targetPort: number, choice: TlsServerChoice, req: Request, arrival: Arrival): Decision {
  const walk = newWalk(hopEnv(env), req);
  const sender: Sender = { proxy: gw, label: proxyLabel(gw) };
  walk.trail.add({ stage: "gateway", at: sender.label, message: `TLS terminated by ${serverName(choice.bound)}` });
  const http = choice.kind !== "tls-terminate";
  const bad = http ? normalizeAtProxy(walk, sender.label) : undefined;
  if (bad) return bad;
  const denied = authorize(walk, gw, targetPort, arrival, http);
  if (denied) return denied;
  return http ? httpRoute(walk, sender, [choice.bound], servicePort, true) : tcpRoute(walk, sender, [choice.bound], servicePort);
}
