import type { HeaderOperations } from "../api/types.js";
import type { Snapshot } from "../store/snapshot.js";
import type { Workload } from "../registry/model.js";
import { Trail } from "./decision.js";
import type { Facts } from "./facts.js";
import type { EndUser } from "./jwt-authn.js";
import { PolicyIndex } from "./index.js";
import type { Request } from "./request.js";
import type { World } from "./world.js";
import { newTiming, type HttpRouteHandling, type Timing } from "./route-timing.js";

/** How a proxy spreads requests over a service's endpoints (DestinationRule `loadBalancer.simple`; Istio's default is least request). */
export type LoadBalancer = "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM";

/** Everything a decision may read. No I/O and no clock beyond `world.now`. */
export interface Env {
  snapshot: Snapshot;
  world: World;
  /** Weighted choice for the live proxy; the static engine takes the heaviest destination. */
  choose?: (weights: number[]) => number;
  /**
   * "path" (default) walks the whole request across every proxy; "hop" stops
   * where this proxy hands the request on, as a live proxy needs.
   */
  scope?: "path" | "hop";
  /**
   * Endpoint choice for the live proxy, by the DestinationRule's load
   * balancer (endpoints named "workload:port"); the static engine takes the first.
   */
  pickEndpoint?: (endpoints: readonly string[], key: string, lb: LoadBalancer) => number;
  /** Draws a fault's percentage for the live proxy; the static engine applies only faults at 100%. */
  chance?: (percentage: number) => boolean;
  /** What I/O has learnt for this request (token checks, an authorizer's answer); missing answers become an `ask`. */
  facts?: Facts;
}

/** One request's walk through the mesh. */
export interface Walk {
  env: Env;
  index: PolicyIndex;
  trail: Trail;
  req: Request;
  timing: Timing;
  /** The HTTP route the current proxy chose (hop mode hands it to the live proxy). */
  route?: HttpRouteHandling;
  /** Response header operations of each routing proxy passed, in path order (the answer meets them in reverse). */
  responseOps: HeaderOperations[][];
  /** The request as it arrived at this walk's first proxy: a hop that changed it sends `req` on instead. */
  readonly arrived: Request;
  /** Headers the current proxy's security filters set on and removed from the request it passes on (JWT, ext-authz). */
  upstream: Readonly<{ set: Readonly<Record<string, string>>; remove: readonly string[] }>;
  /** The end user the current proxy verified (RequestAuthentication), for JWT claim routing at a gateway. */
  endUser?: EndUser;
}

/** The env for deciding one proxy's hop (a live proxy's already is: no copy per request). */
export const hopEnv = (env: Env): Env => (env.scope === "hop" ? env : { ...env, scope: "hop" });

/** What a walk starts with: nothing set or removed (replaced, never changed, by a filter that adds some). */
const NO_UPSTREAM_CHANGE: Walk["upstream"] = Object.freeze({ set: Object.freeze({}), remove: Object.freeze([]) });

export function newWalk(env: Env, req: Request): Walk {
  return { env, index: PolicyIndex.of(env.snapshot), trail: new Trail(), req, timing: newTiming(), responseOps: [], arrived: req, upstream: NO_UPSTREAM_CHANGE };
}

/** The proxy sending a hop: its workload gives the mTLS identity. */
export interface Sender {
  proxy?: Workload;
  label: string;
}

const labels = new WeakMap<Workload, string>();

/** "sidecar NS/NAME" or "gateway NS/NAME", made once per workload (every decision names its proxy). */
export function proxyLabel(w: Workload): string {
  let l = labels.get(w);
  if (l === undefined) labels.set(w, (l = w.gateway ? `gateway ${w.id}` : `sidecar ${w.id}`));
  return l;
}
