// A real client, as `kubectl exec … curl` would be: through the workload's
// sidecar (HTTP proxy / CONNECT) or straight to an address, with TLS trust
// and client certificates from the test PKI. Failures are classified as
// FORMAT.md defines them.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { Outcome } from "../policy/decision.js";
import type { Request } from "../policy/request.js";

/** What the probe client sends: the engine's request shape, plus a body and the client's own TLS material. */
export interface ClientRequest extends Pick<Request, "scheme" | "host" | "port" | "method" | "path" | "headers"> {
  /** Sent as the request line's target verbatim, instead of `path` (through a sidecar: inside a tunnel to host:port, as a captured connection would carry it). */
  requestTarget?: string;
  body?: string;
  send?: string;
  /** PEM roots to trust for https. */
  ca?: string;
  clientCert?: { certPem: string; keyPem: string };
}

/** Through a sidecar's outbound proxy, or straight to an address (from the client workload's own address, when it has one). */
export type Route = { proxy: { host: string; port: number } } | { direct: { host: string; port: number; from?: string } };

const TIMEOUT_MS = 8000;

export function classify(e: NodeJS.ErrnoException, duringTls: boolean): Outcome {
  const code = e.code ?? "";
  const msg = e.message ?? "";
  if (code === "ETIMEDOUT" || code === "ZM_TIMEOUT") return { kind: "error", error: "timeout" };
  if (code === "ECONNREFUSED") return { kind: "error", error: "refused" };
  // FORMAT.md: reset = closed or reset with no response. Nothing else counts as one.
  if (code === "ECONNRESET" || code === "EPIPE" || msg === "socket hang up") return { kind: "error", error: "reset" };
  if (code.startsWith("ERR_SSL") || code.startsWith("ERR_TLS") || /CERT|SELF_SIGNED|UNABLE_TO|alert|ssl|tls/i.test(code + msg) || duringTls) return { kind: "error", error: "tls" };
  // A CONNECT the proxy answered with a status is that answer, not a reset; anything unrecognised fails every expectation.
  const status = (e as { connectStatus?: number }).connectStatus;
  if (status) return { kind: "response", status, body: "", headers: {} };
  return { kind: "error", error: "client", detail: `${code || "error"}: ${msg}` };
}

/** A raw connection to the destination: a CONNECT tunnel through the proxy, or a direct socket. */
function rawConnection(route: Route, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if ("direct" in route) {
      const s = netConnect({ port: route.direct.port, host: route.direct.host, localAddress: route.direct.from }, () => resolve(s));
      s.once("error", reject);
      return;
    }
    const req = httpRequest({ host: route.proxy.host, port: route.proxy.port, method: "CONNECT", path: `${host}:${port}`, headers: { host: `${host}:${port}` }, agent: false });
    req.once("connect", (res: IncomingMessage, socket: Socket) => {
      if (res.statusCode === 200) resolve(socket);
      else {
        socket.destroy();
        reject(Object.assign(new Error(`proxy answered CONNECT with ${res.statusCode}`), { code: "ZM_CONNECT_FAILED", connectStatus: res.statusCode }));
      }
    });
    req.once("error", reject);
    req.end();
  });
}

function withTimeout<T>(p: Promise<T>, onTimeout: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      onTimeout();
      reject(Object.assign(new Error("timed out"), { code: "ZM_TIMEOUT" }));
    }, TIMEOUT_MS);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

export async function send(r: ClientRequest, route: Route): Promise<Outcome> {
  const sockets: Socket[] = [];
  const kill = () => sockets.forEach((s) => s.destroy());
  let duringTls = false;
  try {
    return await withTimeout((async (): Promise<Outcome> => {
      if (r.scheme === "http" && "proxy" in route && r.requestTarget === undefined) {
        // The path as written, in the absolute form an HTTP proxy takes: no client-side normalization.
        return await httpOver(undefined, r, route.proxy, `http://${r.host.includes(":") ? `[${r.host}]` : r.host}:${r.port}${r.path}`, sockets);
      }
      const raw = await rawConnection(route, r.host, r.port);
      sockets.push(raw);
      if (r.scheme === "tcp") return await echo(raw, r.send ?? "");
      if (r.scheme === "http") return await httpOver(raw, r, undefined, r.requestTarget ?? r.path, sockets);
      duringTls = true;
      const tls = await new Promise<TLSSocket>((resolve, reject) => {
        const t = tlsConnect({ socket: raw, servername: isIpLiteral(r.host) ? undefined : r.host, ca: r.ca ?? [], cert: r.clientCert?.certPem, key: r.clientCert?.keyPem, ALPNProtocols: ["http/1.1"] });
        sockets.push(t);
        t.once("secureConnect", () => resolve(t));
        t.once("error", reject);
      });
      // TLS 1.3 reports a rejected client certificate only at the first read.
      duringTls = true;
      return await httpOver(tls, r, undefined, r.requestTarget ?? r.path, sockets);
    })(), kill);
  } catch (e) {
    return classify(e as NodeJS.ErrnoException, duringTls);
  } finally {
    kill();
  }
}

const isIpLiteral = (h: string) => /^[\d.]+$/.test(h) || h.includes(":");

function httpOver(socket: Socket | undefined, r: ClientRequest, proxy: { host: string; port: number } | undefined, path: string, sockets: Socket[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: r.port === (r.scheme === "https" ? 443 : 80) ? r.host : `${r.host}:${r.port}`, ...r.headers };
    if (r.body !== undefined) headers["content-length"] = String(Buffer.byteLength(r.body));
    const req = httpRequest({
      method: r.method, path, headers,
      ...(proxy ? { host: proxy.host, port: proxy.port, agent: false } : { createConnection: () => socket! }),
    });
    req.once("socket", (s) => sockets.push(s));
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(", ") : v;
        resolve({ kind: "response", status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: h });
      });
      res.once("error", reject);
    });
    req.once("error", reject);
    req.end(r.body);
  });
}

function echo(socket: Socket, data: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let got = "";
    socket.on("data", (d) => {
      got += d.toString("utf8");
      if (got.length >= data.length) resolve(got.startsWith(data) ? { kind: "echo" } : { kind: "response", status: 0, body: got });
    });
    socket.once("end", () => (got.length ? resolve({ kind: "response", status: 0, body: got }) : reject(Object.assign(new Error("closed"), { code: "ECONNRESET" }))));
    socket.once("error", reject);
    socket.write(data);
  });
}
