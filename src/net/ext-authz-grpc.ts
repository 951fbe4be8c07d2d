// Envoy's external authorization over gRPC (envoy.service.auth.v3.Authorization/Check):
// the messages the proxy and the stand-in authorizer exchange, encoded with
// protobufjs. Only the fields the mesh reads or writes are declared; names and
// field numbers are Envoy's (api/envoy/service/auth/v3/*.proto), and a test
// checks both directions against Envoy's own .proto files.
import protobuf from "protobufjs/light.js";

export { CHECK_PATH } from "./grpc-paths.js";

const map = (id: number) => ({ keyType: "string", type: "string", id });
const root = protobuf.Root.fromJSON({
  nested: {
    envoy: { nested: {
      config: { nested: { core: { nested: { v3: { nested: {
        SocketAddress: { fields: { protocol: { type: "int32", id: 1 }, address: { type: "string", id: 2 }, portValue: { type: "uint32", id: 3 } } },
        Address: { fields: { socketAddress: { type: "SocketAddress", id: 1 } } },
        HeaderValue: { fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 }, rawValue: { type: "bytes", id: 3 } } },
        HeaderValueOption: { fields: { header: { type: "HeaderValue", id: 1 }, appendAction: { type: "int32", id: 3 } } },
      } } } } } },
      type: { nested: { v3: { nested: { HttpStatus: { fields: { code: { type: "int32", id: 1 } } } } } } },
      service: { nested: { auth: { nested: { v3: { nested: {
        AttributeContext: {
          fields: {
            source: { type: "Peer", id: 1 }, destination: { type: "Peer", id: 2 }, request: { type: "Request", id: 4 },
            contextExtensions: map(10), tlsSession: { type: "TLSSession", id: 12 },
          },
          nested: {
            Peer: { fields: { address: { type: "envoy.config.core.v3.Address", id: 1 }, service: { type: "string", id: 2 }, labels: map(3), principal: { type: "string", id: 4 }, certificate: { type: "string", id: 5 } } },
            Request: { fields: { time: { type: "Timestamp", id: 1 }, http: { type: "HttpRequest", id: 2 } } },
            Timestamp: { fields: { seconds: { type: "int64", id: 1 }, nanos: { type: "int32", id: 2 } } },
            HttpRequest: { fields: {
              id: { type: "string", id: 1 }, method: { type: "string", id: 2 }, headers: map(3), path: { type: "string", id: 4 }, host: { type: "string", id: 5 },
              scheme: { type: "string", id: 6 }, query: { type: "string", id: 7 }, fragment: { type: "string", id: 8 }, size: { type: "int64", id: 9 },
              protocol: { type: "string", id: 10 }, body: { type: "string", id: 11 }, rawBody: { type: "bytes", id: 12 },
            } },
            TLSSession: { fields: { sni: { type: "string", id: 1 } } },
          },
        },
        CheckRequest: { fields: { attributes: { type: "AttributeContext", id: 1 } } },
        Status: { fields: { code: { type: "int32", id: 1 }, message: { type: "string", id: 2 } } },
        DeniedHttpResponse: { fields: { status: { type: "envoy.type.v3.HttpStatus", id: 1 }, headers: { rule: "repeated", type: "envoy.config.core.v3.HeaderValueOption", id: 2 }, body: { type: "string", id: 3 } } },
        OkHttpResponse: { fields: {
          headers: { rule: "repeated", type: "envoy.config.core.v3.HeaderValueOption", id: 2 }, headersToRemove: { rule: "repeated", type: "string", id: 5 },
          responseHeadersToAdd: { rule: "repeated", type: "envoy.config.core.v3.HeaderValueOption", id: 6 },
        } },
        CheckResponse: {
          oneofs: { httpResponse: { oneof: ["deniedResponse", "okResponse"] } },
          fields: { status: { type: "Status", id: 1 }, deniedResponse: { type: "DeniedHttpResponse", id: 2 }, okResponse: { type: "OkHttpResponse", id: 3 } },
        },
      } } } } } },
    } },
  },
});

const CheckRequestType = root.lookupType("envoy.service.auth.v3.CheckRequest");
const CheckResponseType = root.lookupType("envoy.service.auth.v3.CheckResponse");

export interface PeerAttrs {
  address?: string;
  port?: number;
  principal?: string;
}

/** The check, in the terms of AttributeContext the mesh fills. */
export interface CheckAttrs {
  source: PeerAttrs;
  destination: PeerAttrs;
  /** Absent for a TCP connection (the network filter). */
  http?: { method: string; path: string; host: string; scheme: string; headers: Record<string, string>; protocol: string; body?: string; rawBody?: Buffer };
  sni?: string;
}

export interface CheckAnswer {
  code: number;
  message?: string;
  denied?: { status?: number; headers: [string, string][]; body: string };
  ok?: { headers: [string, string][]; headersToRemove: string[]; responseHeadersToAdd: [string, string][] };
}

const peer = (p: PeerAttrs) => ({
  address: p.address ? { socketAddress: { address: p.address, portValue: p.port ?? 0 } } : undefined,
  principal: p.principal ?? "",
});

export function encodeCheckRequest(a: CheckAttrs, now = new Date()): Buffer {
  const ms = now.getTime();
  const http = a.http && {
    method: a.http.method, path: a.http.path, host: a.http.host, scheme: a.http.scheme, headers: a.http.headers, protocol: a.http.protocol,
    ...(a.http.body !== undefined ? { body: a.http.body, size: Buffer.byteLength(a.http.body) } : {}),
    ...(a.http.rawBody !== undefined ? { rawBody: a.http.rawBody, size: a.http.rawBody.length } : {}),
  };
  const msg = CheckRequestType.fromObject({
    attributes: {
      source: peer(a.source), destination: peer(a.destination),
      request: { time: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 }, http },
      tlsSession: a.sni ? { sni: a.sni } : undefined,
    },
  });
  return Buffer.from(CheckRequestType.encode(msg).finish());
}

type Obj = Record<string, unknown>;
const headerPairs = (list: unknown): [string, string][] =>
  ((list as Obj[] | undefined) ?? []).map((o) => {
    const h = (o["header"] ?? {}) as Obj;
    const raw = h["rawValue"] as Uint8Array | undefined;
    return [String(h["key"] ?? ""), raw?.length ? Buffer.from(raw).toString("utf8") : String(h["value"] ?? "")];
  });

export function decodeCheckRequest(bytes: Uint8Array): CheckAttrs {
  const o = CheckRequestType.toObject(CheckRequestType.decode(bytes), { defaults: false, longs: Number }) as Obj;
  const attrs = (o["attributes"] ?? {}) as Obj;
  const peerOf = (p: unknown): PeerAttrs => {
    const sa = (((p as Obj | undefined)?.["address"] as Obj | undefined)?.["socketAddress"] ?? {}) as Obj;
    return { address: sa["address"] as string | undefined, port: sa["portValue"] as number | undefined, principal: (p as Obj | undefined)?.["principal"] as string | undefined };
  };
  const http = ((attrs["request"] as Obj | undefined)?.["http"]) as Obj | undefined;
  return {
    source: peerOf(attrs["source"]), destination: peerOf(attrs["destination"]),
    http: http && {
      method: String(http["method"] ?? ""), path: String(http["path"] ?? ""), host: String(http["host"] ?? ""), scheme: String(http["scheme"] ?? ""),
      headers: (http["headers"] ?? {}) as Record<string, string>, protocol: String(http["protocol"] ?? ""), body: http["body"] as string | undefined,
    },
    sni: ((attrs["tlsSession"] as Obj | undefined)?.["sni"]) as string | undefined,
  };
}

const hvo = (pairs: [string, string][]) => pairs.map(([key, value]) => ({ header: { key, value } }));

export function encodeCheckResponse(a: CheckAnswer): Buffer {
  const msg = CheckResponseType.fromObject({
    status: { code: a.code, message: a.message ?? "" },
    ...(a.denied ? { deniedResponse: { status: a.denied.status ? { code: a.denied.status } : undefined, headers: hvo(a.denied.headers), body: a.denied.body } } : {}),
    ...(a.ok ? { okResponse: { headers: hvo(a.ok.headers), headersToRemove: a.ok.headersToRemove, responseHeadersToAdd: hvo(a.ok.responseHeadersToAdd) } } : {}),
  });
  return Buffer.from(CheckResponseType.encode(msg).finish());
}

export function decodeCheckResponse(bytes: Uint8Array): CheckAnswer {
  const o = CheckResponseType.toObject(CheckResponseType.decode(bytes), { defaults: false }) as Obj;
  const status = (o["status"] ?? {}) as Obj;
  const denied = o["deniedResponse"] as Obj | undefined;
  const ok = o["okResponse"] as Obj | undefined;
  return {
    code: Number(status["code"] ?? 0), message: status["message"] as string | undefined,
    denied: denied && { status: ((denied["status"] as Obj | undefined)?.["code"]) as number | undefined, headers: headerPairs(denied["headers"]), body: String(denied["body"] ?? "") },
    ok: ok && { headers: headerPairs(ok["headers"]), headersToRemove: (ok["headersToRemove"] as string[] | undefined) ?? [], responseHeadersToAdd: headerPairs(ok["responseHeadersToAdd"]) },
  };
}

/** gRPC's length-prefixed message: a compression flag (0) and a 4-byte big-endian length. */
export function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** The one message of a unary call's body, or an error naming what is wrong. */
export function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new Error("a gRPC message needs a 5-byte prefix");
  if (body[0] !== 0) throw new Error("compressed gRPC messages are not accepted");
  const len = body.readUInt32BE(1);
  if (body.length !== 5 + len) throw new Error(`the gRPC message says ${len} bytes and carries ${body.length - 5}`);
  return body.subarray(5);
}
