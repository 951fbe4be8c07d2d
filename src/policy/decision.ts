// A decision is a value: what happened to a request and why, step by step.
// The proxies log it, the CLI prints it, the scenario runner compares it.

import type { HttpRouteHandling } from "./route-timing.js";
import type { HeaderOperations, OutlierDetection } from "../api/types.js";
import type { Question } from "./facts.js";

/** Another endpoint of the same destination, for a retry (Envoy retries on a host not tried before). */
export interface HopEndpoint {
  address: string;
  port: number;
  workload?: string;
}

/** "client": the probe client failed in a way FORMAT.md gives no name (it meets no expectation). */
export type ConnectionError = "reset" | "refused" | "tls" | "timeout" | "unresolved" | "client";

export type Outcome =
  | { kind: "response"; status: number; body?: string; headers?: Record<string, string> }
  | { kind: "echo" }
  | { kind: "error"; error: ConnectionError; detail?: string }
  /** Sent on to a host outside what the engine models (check without a scenario's externals). */
  | { kind: "forwarded"; host: string; port: number }
  /**
   * Live proxies decide one hop: send to this address next (mTLS when `mtls`, expecting `identities`); to a mesh
   * workload, `endpoint` is the name ("workload:port") its in-flight requests and outlier verdicts are counted by.
   */
  | { kind: "forward"; address: string; port: number; workload?: string; endpoint?: string; mtls: boolean; identities: string[]; host?: string; originateTls?: boolean; http?: HttpRouteHandling; alternates?: HopEndpoint[]; outlier?: OutlierPlan; pool?: PoolLimits }
  /** Live proxies decide one hop: hand the request to the local application on this port, with these headers set and removed. */
  | { kind: "deliver"; port: number; headers: Record<string, string>; remove?: readonly string[]; responseHeaders?: HeaderOperations[] }
  /** Not decided yet: the proxy must learn these answers (token signatures, an authorizer's verdict) and decide again with them. */
  | { kind: "ask"; questions: Question[] };

/** The DestinationRule's outlier detection for the chosen service port: how the live proxy judges the endpoint's answers. */
export interface OutlierPlan {
  policy: OutlierDetection;
  /** The service port ("host:port"): ejection limits count per service. */
  key: string;
  /** How many endpoints it has. */
  hosts: number;
}

/** The DestinationRule's connection pool for the chosen service port: requests beyond it overflow (503), as Envoy's circuit breakers. */
export interface PoolLimits {
  /** The service port ("host:port"): requests are counted per service. */
  key: string;
  /** Most requests in flight over HTTP/1.1: maxConnections (one request each) plus http1MaxPendingRequests, and at most http2MaxRequests. */
  h1: number;
  /** Most requests in flight over HTTP/2: http2MaxRequests. */
  h2: number;
}

/** Envoy's answer to a request whose path it cannot normalize. */
export const BAD_REQUEST = { status: 400, body: "Bad Request" } as const;

/** Envoy's body for a request that got no response headers from upstream (connect failure, reset, overflow). */
export const UPSTREAM_RESET_BODY = "upstream connect error or disconnect/reset before headers";

export type Stage =
  | "source" | "sidecar-scope" | "outbound" | "route" | "mtls" | "peer-authn" | "sidecar-ingress"
  | "authn" | "authz" | "gateway" | "tls" | "endpoint" | "app" | "external";

export interface TrailStep {
  stage: Stage;
  /** Which proxy or hop took the step, e.g. "sidecar default/sleep" or "gateway istio-system/istio-ingressgateway". */
  at: string;
  message: string;
  /** The resource that decided, as kind/ns/name. */
  policy?: string;
  /** The rule inside it, e.g. "rules[0]" or "egress[0].hosts[1]". */
  rule?: string;
  /** Marks a step that changed nothing because it was dry-run or AUDIT. */
  shadow?: boolean;
  /** Structured detail for machines (`-o json`), e.g. every policy considered. */
  details?: unknown;
}

/** Made by a Trail, whose `trail` is a getter: copy one field by field (a spread would lose the trail). */
export interface Decision {
  allow: boolean;
  outcome: Outcome;
  /** One sentence: why the request ended as it did. */
  reason: string;
  /** Stable code for a denial, e.g. ZM_DENY_AUTHZ. */
  code?: string;
  policy?: string;
  rule?: string;
  trail: TrailStep[];
}

export const DenyCodes = {
  REGISTRY_ONLY: "ZM_DENY_REGISTRY_ONLY",
  AUTHZ: "ZM_DENY_AUTHZ",
  MTLS_REQUIRED: "ZM_DENY_MTLS_REQUIRED",
  INGRESS_PORT: "ZM_DENY_SIDECAR_INGRESS",
  NO_ROUTE: "ZM_NO_ROUTE",
  NO_ENDPOINT: "ZM_NO_HEALTHY_ENDPOINT",
  TLS: "ZM_TLS_HANDSHAKE",
  NO_LISTENER: "ZM_NO_LISTENER",
  UNRESOLVED: "ZM_UNRESOLVED_HOST",
  TIMEOUT: "ZM_UPSTREAM_TIMEOUT",
  CLIENT_CERT: "ZM_TLS_CLIENT_CERT_REJECTED",
  BAD_PATH: "ZM_BAD_REQUEST_PATH",
  NODE_LOCAL: "ZM_DENY_NODE_LOCAL",
  AUTHORIZER: "ZM_DENY_EXT_AUTHZ",
  JWT: "ZM_DENY_JWT",
} as const;

export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case "response": return `HTTP ${o.status}`;
    case "echo": return "echo";
    case "error": return `error ${o.error}${o.detail ? ` (${o.detail})` : ""}`;
    case "forwarded": return `forwarded to ${o.host}:${o.port} (outside the mesh)`;
    case "forward": return `next hop ${o.address}:${o.port}${o.mtls ? " over mTLS" : ""}`;
    case "deliver": return `deliver to the application on port ${o.port}`;
    case "ask": return `waiting for ${o.questions.map((q) => (q.kind === "jwt" ? "a token's signature check" : `the authorizer "${q.provider.name}"`)).join(" and ")}`;
  }
}

/** A step, or how to make it (one step or several): a proxy decides far more requests than anyone explains, so hot paths defer their text. */
export type StepSource = TrailStep | (() => TrailStep | TrailStep[]);

/** Builds decisions while recording the trail as the request moves. */
export class Trail {
  /** The steps made so far: the array the trail hands out, which only ever holds steps. */
  private readonly made: TrailStep[] = [];
  /** Steps after the first deferred one, in order, until the trail is read. */
  private pending: StepSource[] | undefined;

  /** Records a step. A function is called only when the trail is read; it must read nothing that changes later (nor the trail). */
  add(step: StepSource): this {
    if (this.pending) this.pending.push(step);
    else if (typeof step === "function") this.pending = [step];
    else this.made.push(step);
    return this;
  }

  /** The steps so far, deferred ones made now (once). */
  get steps(): TrailStep[] {
    const pending = this.pending;
    if (pending) {
      this.pending = undefined;
      for (const s of pending) {
        const m = typeof s === "function" ? s() : s;
        if (Array.isArray(m)) this.made.push(...m);
        else this.made.push(m);
      }
    }
    return this.made;
  }

  deny(outcome: Outcome, reason: string, code: string, policy?: string, rule?: string): Decision {
    return new Made(false, outcome, reason, code, policy, rule, this);
  }

  allow(outcome: Outcome, reason: string): Decision {
    return new Made(true, outcome, reason, undefined, undefined, undefined, this);
  }

  /** For results that are neither a policy allow nor deny (502, 503, 404, TLS failures). */
  end(outcome: Outcome, reason: string, code?: string, policy?: string, rule?: string): Decision {
    const allow = outcome.kind === "response" ? outcome.status < 400 : outcome.kind !== "error";
    return new Made(allow, outcome, reason, code, policy, rule, this);
  }
}

/** A decision whose trail is made when first read (and is serialized with it). */
class Made implements Decision {
  constructor(
    public allow: boolean, public outcome: Outcome, public reason: string,
    public code: string | undefined, public policy: string | undefined, public rule: string | undefined,
    from: Trail,
  ) {
    this.#from = from;
  }

  readonly #from: Trail;

  get trail(): TrailStep[] {
    return this.#from.steps;
  }

  toJSON(): Decision {
    return { allow: this.allow, outcome: this.outcome, reason: this.reason, code: this.code, policy: this.policy, rule: this.rule, trail: this.trail };
  }
}
