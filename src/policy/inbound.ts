// The destination side: Sidecar ingress ports, PeerAuthentication, then
// AuthorizationPolicy, then the application.
import { BoundedMap } from "../bounded-map.js";
import { normalizeAtProxy } from "./path-normalization.js";
import { standInAuthorize, standInRespond, type StandInResponse } from "../app/stand-in.js";
import { isHttp } from "../api/protocol.js";
import type { Protocol } from "../api/types.js";
import type { Workload } from "../registry/model.js";
import { authorize } from "./authorize.js";
import { proxyLabel, type Walk } from "./context.js";
import { DenyCodes, type Decision } from "./decision.js";
import { applyHeaderOps, describeHeaderOps } from "./header-ops.js";
import { effectiveMtls } from "./peer-authn.js";
import { requestAuthority } from "./request.js";
import { firstExpired, formatMs } from "./route-timing.js";
import { sidecarFor, sidecarName } from "./sidecar-scope.js";
import { verifyServerCert } from "./tls.js";
import type { ServerBehaviour } from "./world.js";

/** A mesh peer proven by mutual TLS. */
export interface Peer {
  spiffe: string;
  /** "td/ns/NS/sa/SA", AuthorizationPolicy's principal form. */
  principal: string;
}

export interface Arrival {
  /** The hop was mutual TLS from a mesh proxy with this identity. */
  mtlsFrom?: Peer;
  sourceIp?: string;
  /** The client's address as a gateway trusts it from X-Forwarded-For (numTrustedProxies); otherwise the first X-Forwarded-For entry or sourceIp. */
  remoteIp?: string;
  /** Extra headers the sending proxy added (X-Forwarded-For etc.). */
  headers?: Record<string, string>;
}

/** Is this port parsed as HTTP at the inbound? Auto-detected ports sniff what the client speaks. */
function inboundIsHttp(protocol: Protocol, scheme: string): boolean {
  return isHttp(protocol) || (protocol === "AUTO" && scheme === "http");
}

export function arriveAt(walk: Walk, w: Workload, port: number, arrival: Arrival): Decision {
  const at = proxyLabel(w);
  const bad = w.sidecar ? normalizeAtProxy(walk, at) : undefined;
  if (bad) return bad;
  const { index, trail, req } = walk;
  if (!w.sidecar) {
    trail.add({ stage: "endpoint", at: `workload ${w.id}`, message: `no sidecar: ${arrival.mtlsFrom ? "mutual TLS arrives at a plain server" : "the application receives the request directly"}` });
    if (arrival.mtlsFrom) return trail.end({ kind: "error", error: "reset" }, `${w.id} has no sidecar to terminate mutual TLS`, DenyCodes.TLS);
    if (walk.env.scope === "hop") return trail.allow({ kind: "deliver", port, headers: arrival.headers ?? {} }, `delivered to ${w.id}:${port}`);
    return deliverToApp(walk, w, port, arrival);
  }
  const choice = sidecarFor(index, w);
  let appPort = port;
  let protocol = index.registry.portProtocol(w, port);
  if (choice.sidecar?.ingress.length) {
    const ing = choice.sidecar.ingress.find((i) => i.port.number === port);
    if (!ing) {
      const open = choice.sidecar.ingress.map((i) => i.port.number).join(", ");
      trail.add({ stage: "sidecar-ingress", at, message: `port ${port} is not among the ingress listeners (${open}) of ${sidecarName(choice.sidecar)}`, policy: sidecarName(choice.sidecar), rule: "ingress" });
      return trail.deny({ kind: "error", error: "reset" }, `port ${port} of ${w.id} is closed by ${sidecarName(choice.sidecar)}'s ingress listeners`, DenyCodes.INGRESS_PORT, sidecarName(choice.sidecar), "ingress");
    }
    protocol = ing.port.protocol;
    const ep = ing.defaultEndpoint?.match(/:(\d+)$/);
    if (ep) appPort = Number(ep[1]);
    trail.add({ stage: "sidecar-ingress", at, message: `ingress listener for port ${port} (${protocol}) forwards to ${ing.defaultEndpoint ?? `the application port ${port}`}`, policy: sidecarName(choice.sidecar) });
  }

  const mtls = effectiveMtls(index, w, port);
  const secured = arrival.mtlsFrom !== undefined;
  const peer = arrival.mtlsFrom;
  trail.add(() => ({ stage: "peer-authn", at, message: `mTLS mode ${mtls.explanation}; the connection is ${peer ? `mutual TLS from ${peer.spiffe}` : "plaintext"}`, policy: mtls.from[0] }));
  if (mtls.mode === "STRICT" && !secured) {
    return trail.deny({ kind: "error", error: "reset" }, `${w.id} requires mutual TLS (STRICT) and the client sent plaintext`, DenyCodes.MTLS_REQUIRED, mtls.from[0]);
  }

  const http = inboundIsHttp(protocol, req.scheme);
  const denied = authorize(walk, w, port, arrival, http);
  if (denied) return denied;

  const headers: Record<string, string> = { ...arrival.headers, ...walk.upstream.set };
  // Istio's sidecar tells the application who called, as Envoy's XFCC header.
  if (arrival.mtlsFrom && http) headers["x-forwarded-client-cert"] = xfcc(w, arrival.mtlsFrom.spiffe);
  if (walk.env.scope === "hop") {
    const outcome: Extract<Decision["outcome"], { kind: "deliver" }> = { kind: "deliver", port: appPort, headers };
    if (walk.upstream.remove.length) outcome.remove = walk.upstream.remove;
    if (walk.responseOps.length) outcome.responseHeaders = walk.responseOps.flat();
    return trail.allow(outcome, `delivered to the application of ${w.id} on port ${appPort}`);
  }
  return deliverToApp(walk, w, appPort, { ...arrival, headers });
}

/** XFCC values by workload and caller: the same few pairs on every request. */
const xfccs = new WeakMap<Workload, BoundedMap<string, string>>();

function xfcc(w: Workload, caller: string): string {
  let byCaller = xfccs.get(w);
  if (!byCaller) xfccs.set(w, (byCaller = new BoundedMap(1024)));
  let v = byCaller.get(caller);
  if (v === undefined) byCaller.set(caller, (v = `By=${w.spiffe};URI=${caller}`));
  return v;
}

/** The application's answer, as the world says it behaves. */
export function deliverToApp(walk: Walk, w: Workload, port: number, arrival: Arrival): Decision {
  const app = walk.env.world.app(w, port, walk.index.registry.portProtocol(w, port));
  return serveWith(walk, app, `app ${w.id}:${port}`, { workload: w.name, namespace: w.namespace }, arrival.headers ?? {});
}

/** A server (application or external host) answering the client's bytes. */
export function serveWith(
  walk: Walk,
  behaviour: ServerBehaviour,
  at: string,
  id: { workload: string; namespace: string },
  extraHeaders: Record<string, string>,
): Decision {
  const { trail, req, env } = walk;
  if (behaviour.serve === "tcp-echo") {
    if (req.scheme === "tcp") {
      trail.add({ stage: "app", at, message: "TCP echo returns the bytes sent" });
      return trail.allow({ kind: "echo" }, `delivered to ${at}`);
    }
    trail.add({ stage: "app", at, message: `a TCP echo server does not speak ${req.scheme.toUpperCase()}` });
    return trail.end({ kind: "error", error: "reset" }, `${at} is a TCP echo server; the ${req.scheme} client gets no valid response`);
  }
  if (behaviour.serve === "https") {
    if (req.scheme !== "https") {
      trail.add({ stage: "app", at, message: `serves HTTPS; the client sent ${req.scheme === "http" ? "plain HTTP" : "raw bytes"}` });
      return trail.end({ kind: "error", error: "reset" }, `${at} expects TLS and received plaintext`);
    }
    const check = req.clientTls?.insecure ? { ok: true, reason: "verification skipped" } : verifyServerCert(behaviour.chain, req.clientTls?.trust ?? [], req.host, env.world.now);
    trail.add({ stage: "tls", at, message: `client verifies ${at}'s certificate: ${check.reason}` });
    if (!check.ok) return trail.end({ kind: "error", error: "tls" }, `TLS handshake with ${at} fails: ${check.reason}`, DenyCodes.TLS);
  } else if (req.scheme === "https") {
    trail.add({ stage: "app", at, message: "serves plain HTTP; the client expects TLS" });
    return trail.end({ kind: "error", error: "tls" }, `${at} does not speak TLS`, DenyCodes.TLS);
  } else if (req.scheme === "tcp") {
    trail.add({ stage: "app", at, message: "an HTTP server answers raw bytes with 400 Bad Request" });
    return trail.end({ kind: "response", status: 400, body: "" }, `${at} is an HTTP server`);
  }
  const heard = { method: req.method, path: req.path, headers: { host: requestAuthority(req), ...req.headers, ...extraHeaders } };
  const res: StandInResponse = behaviour.serve === "ext-authz" ? standInAuthorize(heard.headers)
    : behaviour.serve === "ext-authz-grpc" ? standInRespond(id, heard)
    : standInRespond({ ...id, body: behaviour.body, files: behaviour.files }, heard);
  trail.add({ stage: "app", at, message: `answers ${res.status}${res.delayMs ? ` after ${formatMs(res.delayMs)}` : ""}` });
  const late = firstExpired(walk.timing, walk.timing.elapsedMs + (res.delayMs ?? 0));
  if (late) {
    const what = late.kind === "timeout" ? "timeout" : "per-try timeout";
    trail.add({ stage: "route", at: late.at, message: `the ${what} of ${formatMs(late.timeoutMs)} (${late.policy} ${late.rule}) expires first: 504`, policy: late.policy, rule: late.rule });
    return trail.end({ kind: "response", status: 504, body: "upstream request timeout" }, `the route's ${what} of ${formatMs(late.timeoutMs)} expired before ${at} answered`, DenyCodes.TIMEOUT, late.policy, late.rule);
  }
  // On its way back the answer meets each routing proxy's response header operations, the nearest first.
  const ops = [...walk.responseOps].reverse().flat();
  if (ops.length) trail.add({ stage: "route", at, message: `response headers on the way back: ${describeHeaderOps(ops)}` });
  return trail.allow({ kind: "response", status: res.status, body: res.body, headers: ops.length ? applyHeaderOps(res.headers ?? {}, ops) : res.headers }, `delivered to ${at}`);
}
