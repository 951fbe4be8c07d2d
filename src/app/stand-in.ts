// The stand-in application's answers (httpbin-like), as a pure function so
// the static engine and the live server give the same response.
import type { CheckAnswer } from "../net/ext-authz-grpc.js";

export interface StandInRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
}

export interface StandInIdentity {
  workload: string;
  namespace: string;
  /** Fixed body from a scenario's `apps` override. */
  body?: string;
  /** Documents an external host serves (a scenario's `externals[].files`: path → body, answered 200). */
  files?: Record<string, string>;
}

export interface StandInResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** httpbin's /delay/N: answer after N seconds (at most 10). */
  delayMs?: number;
}

export function standInRespond(id: StandInIdentity, req: StandInRequest): StandInResponse {
  const path = req.path.split("?")[0] ?? "/";
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status) {
    const code = Number(status[1]);
    return { status: code >= 100 && code <= 599 ? code : 400, headers: { "content-type": "text/plain" }, body: "" };
  }
  const file = id.files?.[path];
  if (file !== undefined) return { status: 200, headers: { "content-type": isJson(file) ? "application/json" : "text/plain" }, body: file };
  const delay = /^\/delay\/(\d+(?:\.\d+)?)$/.exec(path);
  const delayMs = delay ? Math.round(Math.min(Number(delay[1]), 10) * 1000) : undefined;
  if (id.body !== undefined) return { status: 200, headers: { "content-type": "text/plain" }, body: id.body, delayMs };
  if (path === "/headers") return json({ headers: req.headers });
  return { ...json({ workload: id.workload, namespace: id.namespace, method: req.method, path: req.path, headers: req.headers }), delayMs };
}

function json(v: unknown): StandInResponse {
  return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(v) };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The header Istio's sample authorizer looks for, and the answer it gives. */
export const EXT_AUTHZ_HEADER = "x-ext-authz";
export const EXT_AUTHZ_RESULT = "x-ext-authz-check-result";
export const EXT_AUTHZ_DENIED_BODY = "denied by ext_authz for not found header `x-ext-authz: allow` in the request";

export interface AuthorizerVerdict {
  allow: boolean;
  /** 200 or 403, as the sample answers over HTTP. */
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Istio's sample external authorizer (samples/extauthz), for the HTTP and gRPC stand-ins alike: it allows a check
 * whose request carries `x-ext-authz: allow`, and says what it decided in `x-ext-authz-check-result`.
 */
export function standInAuthorize(headers: Record<string, string>): AuthorizerVerdict {
  const allow = headers[EXT_AUTHZ_HEADER] === "allow";
  return allow
    ? { allow, status: 200, headers: { [EXT_AUTHZ_RESULT]: "allowed" }, body: "" }
    : { allow, status: 403, headers: { [EXT_AUTHZ_RESULT]: "denied", "content-type": "text/plain" }, body: EXT_AUTHZ_DENIED_BODY };
}

/** gRPC status PERMISSION_DENIED, which Istio's sample answers a denied check with. */
const PERMISSION_DENIED = 7;

/** The sample's answer to Authorization/Check: the same rule as over HTTP, in the terms of Envoy's CheckResponse. */
export function standInGrpcCheck(headers: Record<string, string>): CheckAnswer {
  const v = standInAuthorize(headers);
  const pairs = Object.entries(v.headers).filter(([k]) => k !== "content-type");
  return v.allow
    ? { code: 0, ok: { headers: pairs, headersToRemove: [], responseHeadersToAdd: [] } }
    : { code: PERMISSION_DENIED, denied: { status: v.status, headers: pairs, body: v.body } };
}
