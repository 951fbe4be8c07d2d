// The stand-in application as a real server: HTTP (httpbin-like), HTTPS with
// a given certificate, or a TCP echo. Scenarios run one per workload port
// and per external host.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createH2cServer, createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { httpKind, peek } from "../net/peek.js";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from "node:net";
import { CHECK_PATH } from "../net/grpc-paths.js";
import { standInAuthorize, standInGrpcCheck, standInRespond, type StandInIdentity, type StandInResponse } from "./stand-in.js";

export type AppMode =
  | { serve: "http" } | { serve: "https"; certPem: string; keyPem: string } | { serve: "tcp-echo" }
  /** Istio's sample authorizer, over HTTP or gRPC (h2c; other requests get the stand-in's answers). */
  | { serve: "ext-authz" } | { serve: "ext-authz-grpc" };

export interface RunningApp {
  host: string;
  port: number;
  close(): Promise<void>;
}

function handler(id: StandInIdentity, serve: AppMode["serve"]) {
  const authorizer = serve === "ext-authz";
  return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    // Only the gRPC authorizer answers Authorization/Check.
    if (serve === "ext-authz-grpc" && req.httpVersionMajor === 2 && req.method === "POST" && req.url === CHECK_PATH) return void answerGrpcCheck(req as Http2ServerRequest, res as Http2ServerResponse);
    // Drain the body: the stand-in answers by method, path and headers.
    req.resume();
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !k.startsWith(":")) headers[k] = Array.isArray(v) ? v.join(", ") : v;
      if (req.httpVersionMajor === 2) headers.host ??= (req as Http2ServerRequest).authority;
      const r: StandInResponse = authorizer ? standInAuthorize(headers) : standInRespond(id, { method: req.method ?? "GET", path: req.url ?? "/", headers });
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(r.status, { ...r.headers, "content-length": Buffer.byteLength(r.body) });
        res.end(r.body);
      };
      if (r.delayMs) setTimeout(answer, r.delayMs).unref();
      else answer();
    });
  };
}

export async function startApp(id: StandInIdentity, mode: AppMode, host: string, port = 0): Promise<RunningApp> {
  let server: HttpServer | TcpServer | Http2SecureServer;
  if (mode.serve === "tcp-echo") server = createTcpServer((s) => s.on("error", () => s.destroy()).pipe(s));
  else if (mode.serve === "https") server = createSecureServer({ cert: mode.certPem, key: mode.keyPem, allowHTTP1: true }, handler(id, mode.serve));
  else {
    // HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on the same port, told apart by the first bytes.
    const h1 = createHttpServer(handler(id, mode.serve));
    const h2 = createH2cServer(handler(id, mode.serve));
    server = createTcpServer({ noDelay: true }, (s) => {
      s.on("error", () => s.destroy());
      void peek(s, httpKind).then((kind) => {
        (kind === "h2" ? h2 : h1).emit("connection", s);
        s.resume(); // peek leaves the socket paused
      }, () => s.destroy());
    });
  }
  server.on("error", () => {});
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (s: import("node:net").Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    host, port: addr.port,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/** Authorization/Check as Istio's sample gRPC authorizer answers it: the same rule as over HTTP, in Envoy's messages. */
function answerGrpcCheck(req: Http2ServerRequest, res: Http2ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => void answer());
  const answer = async () => {
    // The messages' codec (protobufjs) is loaded by the first check: only an authorizer stand-in needs it.
    const { decodeCheckRequest, encodeCheckResponse, frame, unframe } = await import("../net/ext-authz-grpc.js");
    let reply: Buffer;
    let status = "0";
    let message = "";
    try {
      const check = decodeCheckRequest(unframe(Buffer.concat(chunks)));
      reply = encodeCheckResponse(standInGrpcCheck(check.http?.headers ?? {}));
    } catch (e) {
      reply = Buffer.alloc(0);
      status = "13"; // INTERNAL
      message = (e as Error).message;
    }
    res.writeHead(200, { "content-type": "application/grpc" });
    if (reply.length || status === "0") res.write(frame(reply));
    res.addTrailers({ "grpc-status": status, ...(message ? { "grpc-message": encodeURIComponent(message) } : {}) });
    res.end();
  };
}
