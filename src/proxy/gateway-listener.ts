// A gateway's listener on one of its ports: plain HTTP and TCP are decided as
// they come; TLS is dispatched by SNI (read before any handshake) to
// passthrough or to the terminating Gateway server's own TLS stack.
import { reset } from "../net/connections.js";
import { SERVER_TLS } from "../net/tls-server.js";
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, createServer as createTlsServer, type SecureContext, type TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import type { TlsVersion } from "../api/types.js";
import { DenyCodes, type Decision } from "../policy/decision.js";
import { decideAtGateway } from "../policy/engine.js";
import { decideAfterTermination, selectTlsServer, type TlsServerChoice } from "../policy/gateway-path.js";
import type { Arrival } from "../policy/inbound.js";
import type { Request } from "../policy/request.js";
import { clientCertAccepted } from "../policy/tls.js";
import { Registry } from "../registry/registry.js";
import { abortRequest, type ProxyContext } from "./context.js";
import { accessLog, applyHttp, applyTcp, openForward } from "./apply.js";
import type { ProxyState } from "./state.js";
import { isGrpc } from "./metric-labels.js";
import { outboundSeries } from "./metric-series.js";
import { badRequest, bodyReader, relayTarget, requestHeaders, targetPath, type ServerReply, type ServerRequest } from "./exchange.js";
import { HttpFront } from "./http-front.js";
import { SNIFF_TIMEOUT_MS, httpKind, peek } from "../net/peek.js";
import { meshTlsServer } from "./mesh-tls.js";
import { MESH_ALPN, sniffStream } from "./sniff.js";
import { endWithAlert } from "../net/tls-alert.js";
import { edgeHeaders } from "../policy/edge-headers.js";

const VERSIONS: Record<TlsVersion, "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3" | undefined> = { TLS_AUTO: undefined, TLSV1_0: "TLSv1", TLSV1_1: "TLSv1.1", TLSV1_2: "TLSv1.2", TLSV1_3: "TLSv1.3" };

export function gatewayServer(ctx: ProxyContext, targetPort: number): Server {
  const choices = new WeakMap<object, TlsServerChoice>();
  // Who connected (address, and mesh identity inside mTLS), per stream, for AuthorizationPolicy at the gateway.
  const arrivals = new WeakMap<object, Arrival>();
  const arrivalOf = (stream: Duplex): Arrival => arrivals.get(stream) ?? { sourceIp: (stream as Socket).remoteAddress };
  const servicePort = () => {
    const s = ctx.state()!;
    return Registry.of(s.snapshot).servicesOf(s.workload, targetPort)[0]?.port.port ?? targetPort;
  };

  // Plain HTTP, and HTTP inside terminated TLS, share one front (HTTP/1.1 and HTTP/2); the choice tells them apart.
  const front: HttpFront = new HttpFront((req, res) => {
    const conn = front.connectionOf(req);
    onHttp(req, res, conn, conn ? choices.get(conn) : undefined);
  }, ctx.limits);

  // Refuses a handshake with an alert (no server for this SNI, no credential), as a TLS failure rather
  // than a bare close: it offers only TLS 1.0–1.1, which no current client accepts (protocol_version alert).
  let refusal: { creds: object; sc: SecureContext } | undefined;
  const refuse = createTlsServer({
    handshakeTimeout: ctx.limits.headersTimeoutMs,
    SNICallback: (_n, cb) => {
      const creds = ctx.credentials();
      if (!creds) return cb(new Error("no certificate"));
      if (refusal?.creds !== creds) refusal = { creds, sc: createSecureContext({ cert: creds.certPem, key: creds.keyPem, minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" }) };
      cb(null, refusal.sc);
    },
  });
  refuse.on("tlsClientError", (_e, s) => s.destroy());

  const contexts = new Map<string, SecureContext>();
  function contextFor(choice: TlsServerChoice): SecureContext {
    const tls = choice.bound.server.tls!;
    const c = choice.credential!;
    const key = createHash("sha256").update(`${c.certPem}|${c.caPem ?? ""}|${tls.minProtocolVersion}|${tls.maxProtocolVersion}|${choice.mutual}|${tls.cipherSuites.join(":")}`).digest("hex");
    let sc = contexts.get(key);
    if (!sc) {
      sc = createSecureContext({ ...serverTlsOptions(choice), cert: c.certPem, key: c.keyPem });
      contexts.set(key, sc);
    }
    return sc;
  }

  /** The Gateway server's TLS settings as Node options (cipherSuites restrict TLS 1.2 and below only, as in Envoy). */
  function serverTlsOptions(choice: TlsServerChoice) {
    const tls = choice.bound.server.tls!;
    return {
      ...SERVER_TLS,
      ca: choice.mutual ? choice.credential!.caPem : undefined,
      minVersion: VERSIONS[tls.minProtocolVersion], maxVersion: VERSIONS[tls.maxProtocolVersion],
      ciphers: tls.cipherSuites.length ? tls.cipherSuites.join(":") : undefined,
    };
  }

  function handshakeFailed(choice: TlsServerChoice, error: string, code: string): void {
    accessLog(ctx, undefined, "gateway", { protocol: "tls", error }, { allow: false, reason: `${error} (${choice.bound.gateway.meta.name} servers[${choice.bound.server.index}])`, code });
  }

  /** Terminates TLS as the chosen Gateway server; MUTUAL judges the client certificate before any byte is read. */
  function terminate(socket: Socket, choice: TlsServerChoice, sentSni: boolean): void {
    // The certificate comes from SNICallback's cached context. Only a client that sent no SNI (so no callback)
    // needs it in the server's own options, which parse the key again: measured, that tripled a handshake's cost.
    const sc = contextFor(choice);
    const t = createTlsServer({
      ...serverTlsOptions(choice),
      // rejectUnauthorized stays off: Node would close a client it rejects without a word; the check below answers with an alert.
      SNICallback: (_n, cb) => cb(null, sc), requestCert: choice.mutual, rejectUnauthorized: false, handshakeTimeout: ctx.limits.headersTimeoutMs,
      // HTTP servers offer HTTP/2 too (gRPC clients insist on it); a TLS server relays bytes, so no ALPN of its own.
      ALPNProtocols: choice.kind === "https-terminate" ? ["h2", "http/1.1"] : undefined,
      ...(sentSni ? {} : { cert: choice.credential!.certPem, key: choice.credential!.keyPem }),
    });
    t.on("tlsClientError", (e, s) => {
      handshakeFailed(choice, `TLS handshake failed: ${e.message}`, DenyCodes.TLS);
      s.destroy();
    });
    t.on("secureConnection", (sock: TLSSocket) => {
      sock.on("error", () => sock.destroy());
      if (choice.mutual) {
        const peer = sock.getPeerX509Certificate();
        const verdict = !peer ? { ok: choice.clientCertOptional, reason: "no client certificate" }
          : !sock.authorized ? { ok: false, reason: `the client certificate does not verify against the server's CA (${sock.authorizationError})` }
          : clientCertAccepted(peer, choice.bound.server.tls!);
        if (!verdict.ok) {
          handshakeFailed(choice, verdict.reason, DenyCodes.CLIENT_CERT);
          return void endWithAlert(socket);
        }
      }
      arrivals.set(sock, arrivalOf(socket));
      if (choice.kind === "https-terminate") {
        choices.set(sock, choice);
        return front.take(sock, sock.alpnProtocol === "h2" ? "h2" : "h1");
      }
      const req: Request = { scheme: "tcp", host: "", port: servicePort(), method: "CONNECT", path: "", headers: {} };
      const state = ctx.state()!;
      void Promise.resolve(ctx.answers.decide(state, (env) => decideAfterTermination(env, state.workload, servicePort(), targetPort, choice, req, arrivalOf(socket)))).then((d) => tcp(sock, d), () => sock.destroy());
    });
    t.emit("connection", socket);
  }

  async function tcp(stream: Duplex, d: Decision): Promise<void> {
    const state = ctx.state();
    if (!state) return void reset(stream as Socket);
    const o = d.outcome;
    await applyTcp({
      ctx, state, d, started: Date.now(), side: "CLIENT", direction: "gateway", request: { scheme: "tcp", method: "CONNECT", host: "", port: servicePort(), path: "", headers: {} },
      peer: (stream as Socket).remoteAddress, stream,
      series: o.kind === "forward" ? outboundSeries(state, d, o.host ?? o.address, "tcp") : "",
      log: { protocol: "tcp" },
      open: () => openForward(ctx, state, o),
    });
  }

  function onHttp(req: ServerRequest, res: ServerReply, conn: Duplex | undefined, choice: TlsServerChoice | undefined): void {
    const started = Date.now();
    const state = ctx.state();
    if (!state) return void abortRequest(req);
    const headers = requestHeaders(req);
    const path = targetPath(req.url, headers, state.snapshot.mesh.pathNormalization);
    if (path === undefined) return badRequest(res);
    const host = (headers.host ?? "").replace(/:\d+$/, "");
    const request: Request = { scheme: "http", host, port: servicePort(), method: req.method ?? "GET", path, headers };
    const arrived = conn ? arrivalOf(conn) : {};
    // The edge: what the client claims about identity and hops is not passed on as it came.
    const trusted = state.snapshot.mesh.defaultConfig.gatewayTopology?.numTrustedProxies ?? 0;
    const arrival: Arrival = { ...arrived, remoteIp: edgeHeaders(headers, arrived.sourceIp, trusted, !arrived.mtlsFrom) };
    const body = bodyReader(req);
    const decided = ctx.answers.decide(state, (env) => (choice ? decideAfterTermination(env, state.workload, servicePort(), targetPort, choice, request, arrival) : decideAtGateway(env, state.workload, servicePort(), targetPort, request, arrival)), body);
    if (decided instanceof Promise) return void decided.then((d) => applyHttpAtGateway(req, res, state, request, headers, host, choice, started, d, body.taken), () => abortRequest(req));
    applyHttpAtGateway(req, res, state, request, headers, host, choice, started, decided);
  }

  /** A gateway's HTTP decision: the next hop, told whether the client's connection was TLS. */
  function applyHttpAtGateway(req: ServerRequest, res: ServerReply, state: ProxyState, request: Request, headers: Record<string, string>, host: string, choice: TlsServerChoice | undefined, started: number, d: Decision, body?: Buffer): void {
    const o = d.outcome;
    // What the route made of the request (rewrite, header operations), else the request as it came.
    const send = (o.kind === "forward" && o.http?.request) || { path: request.path, headers };
    // Both header maps are this request's own (a copy, or the decision's), so they take the header in place.
    send.headers["x-forwarded-proto"] = choice ? "https" : "http";
    applyHttp({
      ctx, state, d, started, side: "CLIENT", direction: "gateway", request, peer: req.socket?.remoteAddress, req, res,
      series: outboundSeries(state, d, host, isGrpc(headers) ? "grpc" : "http"),
      log: { protocol: "http", method: request.method, authority: headers.host, path: request.path },
      target: o.kind === "forward" ? relayTarget(state, o) : undefined,
      send: { path: send.path, headers: send.headers, route: o.kind === "forward" ? o.http : undefined, body },
    });
  }

  // Inside a sidecar's mTLS comes what the application sent: plaintext, or its own TLS (routed by SNI, PASSTHROUGH).
  const meshTls = meshTlsServer(ctx, (tls, peer) => {
    arrivals.set(tls, { sourceIp: tls.remoteAddress, mtlsFrom: peer });
    void sniffStream(tls).then((first) => plain(tls, first.kind === "tls" ? first : undefined, ctx.env(ctx.state()!))).catch(() => tls.destroy());
  });


  // No Nagle: a response written in pieces must not wait for the peer's delayed ACK (40 ms stalls).
  return createServer({ noDelay: true }, (socket) => void accept(socket).catch(() => reset(socket)));

  async function accept(socket: Socket): Promise<void> {
    socket.on("error", () => {});
    const state = ctx.state();
    if (!state) return void reset(socket); // fail closed without configuration
    const first = await sniffStream(socket);
    const env = ctx.env(state);
    // Sidecars reach a gateway (an egress gateway) over mesh mTLS; inside is what they would have sent in plaintext.
    if (first.kind === "tls" && first.alpn.includes(MESH_ALPN)) return void meshTls.emit("connection", socket);
    return plain(socket, first.kind === "tls" ? first : undefined, env);
  }

  async function plain(socket: Duplex, first: { sni?: string; invalid?: string } | undefined, env: ReturnType<ProxyContext["env"]>): Promise<void> {
    const state = ctx.state()!;
    if (first) {
      // A ClientHello no TLS library accepts is refused, never routed (by which of its two names?).
      if (first.invalid) return void refuse.emit("connection", socket as Socket);
      const sni = (first.sni ?? "").toLowerCase();
      const choice = selectTlsServer(env, state.workload, servicePort(), targetPort, sni);
      if (!choice || (choice.kind !== "passthrough" && !choice.credential)) return void refuse.emit("connection", socket as Socket);
      if (choice.kind === "passthrough") {
        const d = await ctx.answers.decide(state, (e) => decideAtGateway(e, state.workload, servicePort(), targetPort, { scheme: "https", host: sni, port: servicePort(), method: "CONNECT", path: "", headers: {} }, arrivalOf(socket)));
        // No route for the SNI fails the handshake; a denial (or no endpoint) resets, as a TCP connection.
        if (d.outcome.kind === "error" && d.outcome.error === "tls") return void refuse.emit("connection", socket as Socket);
        return tcp(socket, d);
      }
      return terminate(socket as Socket, choice, Boolean(first.sni));
    }
    const kind = await peek(socket, httpKind, { afterMs: SNIFF_TIMEOUT_MS, value: false });
    if (kind) return front.take(socket, kind);
    await tcp(socket, await ctx.answers.decide(state, (e) => decideAtGateway(e, state.workload, servicePort(), targetPort, { scheme: "tcp", host: "", port: servicePort(), method: "CONNECT", path: "", headers: {} }, arrivalOf(socket))));
  }

}
