// What a proxy learns by I/O when the engine asks (policy/facts.ts): token
// signatures against key sets (inline, or fetched from jwksUri through the
// mesh's own egress decision, cached and refreshed), and an external
// authorizer's verdict over Envoy's HTTP or gRPC ext_authz protocol, sent as a
// mesh hop like any other request the proxy makes.
import { BoundedMap } from "../bounded-map.js";
import { accessLog } from "./apply.js";
import type { ClientHttp2Session } from "node:http2";
import type { Dispatcher } from "undici";
import { settle } from "../policy/answers.js";
import type { Env } from "../policy/context.js";
import type { Decision } from "../policy/decision.js";
import { decideOutbound } from "../policy/engine.js";
import { errorAnswer, grpcAnswer, httpAnswer, httpCheckRequest, providerHost, settingsOf } from "../policy/ext-authz.js";
import { noFacts, type AuthorizerAnswer, type Facts, type JwtCheck, type Question } from "../policy/facts.js";
import { JwtErrors } from "../policy/jwt-authn.js";
import { keySet, verifySignature, type KeySet } from "../policy/jwt-verify.js";
import type { Request } from "../policy/request.js";
import { CHECK_PATH } from "../net/grpc-paths.js";

/** Envoy's ext_authz messages (protobufjs), loaded by the first gRPC check: most proxies never make one. */
let codec: Promise<typeof import("../net/ext-authz-grpc.js")> | undefined;
const loadCodec = () => (codec ??= import("../net/ext-authz-grpc.js"));
import type { ProxyContext } from "./context.js";
import { relayTarget } from "./exchange.js";
import type { ProxyState } from "./state.js";

/** A failed fetch is not retried for this long: a flood of tokens must not become a flood of fetches. */
const JWKS_RETRY_MS = 5_000;
/** How long a key-set fetch may take when the rule sets no `timeout` (Istio's default: 5 s). */
const JWKS_TIMEOUT_MS = 5_000;
/** Signature results kept per proxy (a token is verified once, not per request). */
const MAX_CHECKS = 4096;
/** The most a response from an authorizer or a key-set server may hold. */
const MAX_BODY = 1 << 20;

interface KeySetEntry {
  keys?: KeySet;
  error?: string;
  until: number;
  pending?: Promise<void>;
}

type AuthorizerQuestion = Extract<Question, { kind: "authorizer" }>;

/** The request's body, read only when an authorizer asks for it (includeRequestBodyInCheck); what was read is then sent upstream. */
export interface BodyReader {
  /** Up to `max` bytes, and whether the body was longer. */
  read(max: number): Promise<{ bytes: Buffer; truncated: boolean }>;
}

export class LiveAnswers {
  private readonly checks = new BoundedMap<string, JwtCheck>(MAX_CHECKS);
  private readonly keySets = new Map<string, KeySetEntry>();

  /** `refreshMs`: how long a fetched key set is used before it is fetched again (setting jwksRefresh; Istio's default 20 minutes). */
  constructor(private readonly ctx: ProxyContext, private readonly refreshMs = 20 * 60_000) {}

  /** Decides with `decideWith`; when the engine asks, learns the answers and decides again. */
  decide(state: ProxyState, decideWith: (env: Env) => Decision, body?: BodyReader): Decision | Promise<Decision> {
    const env = this.ctx.env(state);
    const first = decideWith(env);
    if (first.outcome.kind !== "ask") return first;
    return settle((facts) => decideWith({ ...env, facts }), (qs, facts) => this.learn(state, qs, facts, body), noFacts(), first);
  }

  async learn(state: ProxyState, questions: Question[], facts: Facts, body?: BodyReader): Promise<void> {
    await Promise.all(questions.map(async (q) => {
      if (q.kind === "jwt") facts.jwt.set(q.key, await this.jwt(state, q));
      else facts.authorizer.set(q.key, await this.authorizer(state, q, body));
    }));
  }

  private async jwt(state: ProxyState, q: Extract<Question, { kind: "jwt" }>): Promise<JwtCheck> {
    // A rule with neither (Istio would look the issuer's keys up by OIDC discovery, which zeromesh does not do) verifies nothing.
    if (q.rule.jwksUri === undefined && q.rule.jwks === undefined) return { ok: false, error: JwtErrors.FETCH };
    const source = q.rule.jwksUri ?? `inline:${q.rule.jwks}`;
    const entry = await this.keySet(state, source, q.rule.jwks, q.rule.timeoutMs);
    if (!entry.keys) return { ok: false, error: entry.error ?? JwtErrors.FETCH };
    const cached = this.checks.get(q.key);
    if (cached) return cached;
    const check = await verifySignature(q.token, entry.keys);
    this.checks.set(q.key, check);
    return check;
  }

  /** A rule's key set: parsed once when inline; fetched, kept and refreshed when at a URI. */
  private async keySet(state: ProxyState, source: string, inline: string | undefined, timeoutMs = JWKS_TIMEOUT_MS): Promise<KeySetEntry> {
    const e = this.keySets.get(source);
    if (e && Date.now() < e.until) return e;
    // Keys already fetched keep serving while a refresh runs in the background, as Envoy keeps its cached JWKS.
    if (e?.keys) {
      e.pending ??= this.refresh(state, e, source, inline, timeoutMs);
      return e;
    }
    const next: KeySetEntry = e ?? { until: 0 };
    this.keySets.set(source, next);
    await (next.pending ??= this.refresh(state, next, source, inline, timeoutMs));
    return next;
  }

  private async refresh(state: ProxyState, entry: KeySetEntry, source: string, inline: string | undefined, timeoutMs: number): Promise<void> {
    try {
      const text = inline ?? await this.fetch(state, source, timeoutMs);
      entry.keys = await keySet(text);
      entry.error = undefined;
      entry.until = inline !== undefined ? Infinity : Date.now() + this.refreshMs;
      // Results against the old keys are stale.
      for (const k of this.checks.keys()) if (k.startsWith(`${source}\n`)) this.checks.delete(k);
    } catch (err) {
      if (!entry.keys) entry.error = inline !== undefined ? JwtErrors.NO_KEY : JwtErrors.FETCH;
      entry.until = Date.now() + JWKS_RETRY_MS;
      accessLog(this.ctx, undefined, "outbound", { protocol: "http", authority: source, error: `key set: ${(err as Error).message}` }, { allow: false, reason: `the key set at ${source} could not be fetched: ${(err as Error).message}` }, undefined, state);
    } finally {
      entry.pending = undefined;
    }
  }

  /** GET a key set as this workload's application would, so the mesh's egress rules decide whether it may. */
  private async fetch(state: ProxyState, uri: string, timeoutMs: number): Promise<string> {
    const url = new URL(uri);
    const https = url.protocol === "https:";
    const req: Request = { scheme: https ? "https" : "http", host: url.hostname, port: Number(url.port) || (https ? 443 : 80), method: "GET", path: `${url.pathname}${url.search}`, headers: { host: url.host } };
    const d = decideOutbound(this.ctx.env(state), state.workload, req);
    if (d.outcome.kind !== "forward") throw new Error(`the mesh does not let ${state.workload.id} reach it: ${d.reason}`);
    const target = relayTarget(state, d.outcome);
    if (!target) throw new Error("no live endpoint");
    const pool = https ? this.ctx.pools.originate(target.host, target.port, url.hostname, state.config.outsideRoots)
      : target.mtls ? this.ctx.pools.poolFor(target, this.ctx.credentials()) : this.ctx.pools.plainPool(target.host, target.port);
    if (!pool) throw new Error("no workload certificate yet");
    const res = await exchange(pool, { method: "GET", path: req.path, headers: { host: url.host, accept: "application/json" } }, timeoutMs);
    if (res.status !== 200) throw new Error(`it answered ${res.status}`);
    return res.body.toString("utf8");
  }

  private async authorizer(state: ProxyState, q: AuthorizerQuestion, body?: BodyReader): Promise<AuthorizerAnswer> {
    const p = q.provider;
    const { timeoutMs, includeRequestBodyInCheck: withBody } = settingsOf(p);
    try {
      const host = providerHost(p);
      const grpc = p.kind === "envoyExtAuthzGrpc";
      if (!grpc && !q.check.http) return errorAnswer(p, "an HTTP authorizer cannot check a TCP connection");
      // includeRequestBodyInCheck: the body (at most maxRequestBytes) goes along; a longer one is refused unless partial messages are allowed.
      let sentBody: Buffer | undefined;
      const headers = { ...q.check.headers };
      if (withBody && q.check.http && body) {
        // 0 (unset) takes what a proxy holds at most.
        const max = withBody.maxRequestBytes || MAX_BODY;
        const { bytes, truncated } = await withTimeout(body.read(max), timeoutMs, "the request body did not arrive");
        if (truncated && !withBody.allowPartialMessage) return { verdict: "deny", status: 413, body: "Payload Too Large", upstream: {}, upstreamRemove: [], downstream: {}, detail: `the request body is larger than maxRequestBytes (${max}) of "${p.name}"` };
        if (truncated) headers["x-envoy-auth-partial-body"] = "true";
        sentBody = bytes;
      }
      const check = { ...q.check, headers };
      const sent = grpc ? undefined : httpCheckRequest(p, check);
      const req: Request = { scheme: "http", host, port: p.port ?? 0, method: grpc ? "POST" : sent!.method, path: grpc ? CHECK_PATH : sent!.path, headers: { host } };
      const d = decideOutbound(this.ctx.env(state), state.workload, req);
      if (d.outcome.kind !== "forward") return errorAnswer(p, `the mesh does not route to ${p.service}:${p.port}: ${d.reason}`);
      const target = relayTarget(state, d.outcome);
      if (!target) return errorAnswer(p, `no live endpoint for ${p.service}:${p.port}`);
      if (grpc) {
        const session = this.ctx.pools.h2For(target, this.ctx.credentials());
        if (!session) return errorAnswer(p, "no workload certificate yet");
        const { decodeCheckResponse, encodeCheckRequest } = await loadCodec();
        return grpcAnswer(p, decodeCheckResponse(await grpcCall(session, host, encodeCheckRequest({
          source: { address: q.check.sourceIp, principal: q.check.sourcePrincipal },
          destination: { address: q.check.destinationIp, port: q.check.destinationPort, principal: q.check.destinationPrincipal },
          http: q.check.http ? {
            method: q.check.method, path: q.check.path, host: q.check.host, scheme: q.check.scheme, headers, protocol: "HTTP/1.1",
            ...(sentBody ? (withBody?.packAsBytes ? { rawBody: sentBody } : { body: sentBody.toString("utf8") }) : {}),
          } : undefined,
          sni: q.check.sni,
        }), timeoutMs)));
      }
      const pool = this.ctx.pools.poolFor(target, this.ctx.credentials());
      if (!pool) return errorAnswer(p, "no workload certificate yet");
      if (sentBody) sent!.headers["content-length"] = String(sentBody.length);
      const res = await exchange(pool, { ...sent!, body: sentBody }, timeoutMs);
      return httpAnswer(p, res.status, res.headers, res.body.toString("utf8"));
    } catch (e) {
      return errorAnswer(p, (e as Error).message);
    }
  }
}

interface Exchanged {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One request and its whole (bounded) answer over a pool, within `timeoutMs`. */
function exchange(pool: Dispatcher, opts: { method: string; path: string; headers: Record<string, string>; body?: Buffer }, timeoutMs: number): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let size = 0;
    let abort: ((e: Error) => void) | undefined;
    let settled = false;
    // The deadline holds from the start, connecting included: the dispatch is aborted if it has begun.
    const timer = setTimeout(() => {
      const e = new Error(`no answer within ${timeoutMs} ms`);
      abort?.(e);
      done(e);
    }, timeoutMs);
    const done = (e?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve({ status, headers, body: Buffer.concat(chunks) });
    };
    pool.dispatch({ method: opts.method as Dispatcher.HttpMethod, path: opts.path, headers: opts.headers, body: opts.body ?? null }, {
      onRequestStart(controller) {
        abort = (e) => controller.abort(e);
      },
      onResponseStart(_c, statusCode, resHeaders) {
        status = statusCode;
        headers = Object.fromEntries(Object.entries(resHeaders).flatMap(([k, v]) => (v === undefined ? [] : [[k.toLowerCase(), Array.isArray(v) ? v.join(", ") : String(v)]])));
      },
      onResponseData(controller, chunk) {
        size += chunk.length;
        if (size > MAX_BODY) return controller.abort(new Error(`the answer is larger than ${MAX_BODY} bytes`));
        chunks.push(chunk);
      },
      onResponseEnd: () => done(),
      onResponseError: (_c, e) => done(e),
    });
  });
}

/** A unary gRPC call on an HTTP/2 session: the framed request, then the one framed answer and grpc-status. */
async function grpcCall(session: ClientHttp2Session, authority: string, message: Buffer, timeoutMs: number): Promise<Buffer> {
  const { frame, unframe } = await loadCodec();
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": CHECK_PATH, ":authority": authority, "content-type": "application/grpc", te: "trailers" });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage = "";
    const timer = setTimeout(() => {
      stream.close();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let size = 0;
    const onStatus = (h: Record<string, unknown>) => {
      if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
      // The authorizer's words, percent-encoded as gRPC says; kept raw when they are not.
      if (h["grpc-message"] !== undefined) grpcMessage = safeDecode(String(h["grpc-message"]));
    };
    stream.on("response", onStatus);
    stream.on("trailers", onStatus);
    stream.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        clearTimeout(timer);
        stream.close();
        return reject(new Error(`the answer is larger than ${MAX_BODY} bytes`));
      }
      chunks.push(c);
    });
    stream.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    stream.on("end", () => {
      clearTimeout(timer);
      if (grpcStatus !== "0") return reject(new Error(`the call ended with gRPC status ${grpcStatus ?? "none"}${grpcMessage ? ` (${grpcMessage})` : ""}`));
      try {
        resolve(unframe(Buffer.concat(chunks)));
      } catch (e) {
        reject(e);
      }
    });
    stream.end(frame(message));
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `p`, or a rejection naming what did not happen within `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
