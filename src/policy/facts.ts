// What only I/O can learn, handed to the pure engine: whether a token's signature
// verifies with its issuer's keys, and what an external authorizer answered.
// The engine asks (an `ask` outcome naming its questions); the live proxy or the
// static runner finds the answers and decides again with them.
import type { ExtensionProvider } from "../api/mesh.js";
import type { JwtRule } from "../api/types.js";
import type { Workload } from "../registry/model.js";

/** A token's signature against its issuer's key set: Envoy's words when it fails. */
export type JwtCheck = { ok: true } | { ok: false; error: string };

/** What the proxy sends an external authorizer about one request (Envoy's AttributeContext, as far as the mesh knows it). */
export interface CheckInput {
  method: string;
  /** Path with the query string. */
  path: string;
  host: string;
  scheme: "http" | "https";
  /** Lower-cased names. */
  headers: Record<string, string>;
  sourceIp?: string;
  sourcePrincipal?: string;
  destinationIp?: string;
  destinationPort: number;
  destinationPrincipal: string;
  sni?: string;
  /** False for a TCP connection (the network ext_authz filter): no HTTP attributes. */
  http: boolean;
}

/** An external authorizer's answer, in the terms Istio's provider settings give it. */
export interface AuthorizerAnswer {
  verdict: "allow" | "deny" | "error";
  /** deny: the status the client gets (the authorizer's; 403 when it gave none). */
  status?: number;
  /** deny: the body the client gets. */
  body?: string;
  /** allow: headers set on the request sent upstream. */
  upstream: Record<string, string>;
  /** allow: headers removed from the request sent upstream. */
  upstreamRemove: string[];
  /** Headers the client gets: with the denial, or added to the response when allowed. */
  downstream: Record<string, string>;
  /** What the authorizer said, for the trail. */
  detail: string;
}

export type Question =
  | { kind: "jwt"; key: string; rule: JwtRule; token: string; workload: Workload }
  | { kind: "authorizer"; key: string; provider: ExtensionProvider; check: CheckInput; workload: Workload };

/** Answers found so far, by question key. */
export interface Facts {
  jwt: Map<string, JwtCheck>;
  authorizer: Map<string, AuthorizerAnswer>;
}

export const noFacts = (): Facts => ({ jwt: new Map(), authorizer: new Map() });

/** A token's check depends only on the token and the key set it is verified with. */
export const jwtQuestionKey = (rule: JwtRule, token: string) => `${rule.jwksUri ?? rule.jwks ?? ""}\n${token}`;

/** One authorizer check per proxy and provider for a request. */
export const authorizerQuestionKey = (proxy: string, provider: string) => `${proxy}\n${provider}`;
