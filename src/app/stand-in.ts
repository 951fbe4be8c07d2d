// The stand-in application's answers (httpbin-like), as a pure function so
// the static engine and the live server give the same response.

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
