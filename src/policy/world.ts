// What lies beyond the configuration: how applications and external hosts
// answer. A scenario declares it; the live mesh has the real thing.
import type { X509Certificate } from "node:crypto";
import { isHttpOrAuto } from "../api/protocol.js";
import type { Protocol } from "../api/types.js";
import type { Workload } from "../registry/model.js";

export type ServerBehaviour =
  | { serve: "http"; body?: string; files?: Record<string, string> }
  | { serve: "https"; chain: X509Certificate[]; body?: string; files?: Record<string, string> }
  | { serve: "tcp-echo" }
  /** Istio's sample external authorizer: over HTTP (Envoy's HTTP ext_authz), or gRPC (Authorization/Check) with plain HTTP answered as the stand-in. */
  | { serve: "ext-authz" }
  | { serve: "ext-authz-grpc" };

export interface World {
  now: Date;
  /** How a workload's application answers on `port` (which speaks `protocol` by Istio's selection). */
  app(w: Workload, port: number, protocol: Protocol): ServerBehaviour;
  /** How an external host answers on `port`; undefined when the engine cannot know (plain `check`). */
  external(host: string, port: number): ServerBehaviour | "unknown" | undefined;
}

/** The stand-in application of FORMAT.md, chosen by protocol. */
export function standInBehaviour(protocol: Protocol): ServerBehaviour {
  return isHttpOrAuto(protocol) ? { serve: "http" } : { serve: "tcp-echo" };
}

const standInApp: World["app"] = (_w, _p, protocol) => standInBehaviour(protocol);
const unknownExternal: World["external"] = () => "unknown";

/** A world with only stand-in applications and no knowledge of external hosts. */
export function defaultWorld(now = new Date()): World {
  return { now, app: standInApp, external: unknownExternal };
}

/** A live proxy's world: the time is read when a decision needs it (token expiry); it decides hops, so it never asks the rest. */
export const liveWorld: World = {
  get now() {
    return new Date();
  },
  app: standInApp,
  external: unknownExternal,
};
