// The live proxy's choice among a service's endpoints (DestinationRule
// `loadBalancer.simple`), the in-flight request counts that least request
// needs, and outlier detection: endpoints that answered with too many
// consecutive errors are ejected for a while, as Envoy does. The engine
// asks; relays report when requests end.
import type { OutlierDetection } from "../api/types.js";
import type { LoadBalancer } from "../policy/context.js";

interface Health {
  /** The service port it serves: ejection limits count per service. */
  key: string;
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Times ejected so far: each ejection lasts baseEjectionTime times this. */
  ejections: number;
  ejectedUntil: number;
}

/** Requests in flight to one name: the object stays while it is used, so a request changes a field and not the map. */
export interface InFlight {
  n: number;
}

/** Idle counts kept for names no longer busy; beyond this many entries, a count that drops to zero is forgotten. */
const MAX_KEPT_COUNTS = 4096;

export class Balancer {
  private readonly next = new Map<string, number>();
  private readonly inflight = new Map<string, InFlight>();
  private readonly health = new Map<string, Health>();

  /** `random` and `now` are injectable so tests can draw fixed numbers and move time. */
  constructor(private readonly random: () => number = Math.random, private readonly now: () => number = Date.now) {}

  /** The index of the endpoint to use; `key` names the service port (round robin keeps its place per key). */
  pick(endpoints: readonly string[], key: string, lb: LoadBalancer): number {
    if (endpoints.length <= 1) return 0;
    // Ejected endpoints sit out; when every one is ejected, all serve again (Envoy's panic mode).
    let candidates: number[] | undefined;
    if (this.health.size) {
      const t = this.now();
      const live = endpoints.flatMap((e, i) => ((this.health.get(e)?.ejectedUntil ?? 0) > t ? [] : [i]));
      if (live.length && live.length < endpoints.length) candidates = live;
    }
    const n = candidates?.length ?? endpoints.length;
    const at = (i: number) => candidates?.[i] ?? i;
    if (n === 1) return at(0);
    if (lb === "RANDOM") return at(Math.floor(this.random() * n));
    if (lb === "ROUND_ROBIN") {
      const i = this.next.get(key) ?? 0;
      this.next.set(key, i + 1);
      return at(i % n);
    }
    // Least request as Envoy does it when weights are equal: the less busy of two endpoints drawn at random.
    const ai = Math.floor(this.random() * n);
    let bi = Math.floor(this.random() * (n - 1));
    if (bi >= ai) bi++;
    const [a, b] = [at(ai), at(bi)];
    return this.load(endpoints[b]!) < this.load(endpoints[a]!) ? b : a;
  }

  /**
   * A request's answer from `endpoint` (0: none — connect failure or reset), judged by the
   * DestinationRule's outlier detection; `hosts` is how many endpoints the service has.
   * Returns true when this answer ejected the endpoint.
   */
  report(endpoint: string, key: string, status: number, od: OutlierDetection, hosts: number): boolean {
    const gateway = status === 0 || status === 502 || status === 503 || status === 504;
    const h = this.health.get(endpoint);
    if (!(status === 0 || status >= 500)) {
      // A success ends both runs; an endpoint with nothing to remember is forgotten.
      if (h) {
        h.consecutive5xx = 0;
        h.consecutiveGateway = 0;
        if (!h.ejections) this.health.delete(endpoint);
      }
      return false;
    }
    const rec = h ?? { key, consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, ejectedUntil: 0 };
    if (!h) this.health.set(endpoint, rec);
    rec.consecutive5xx++;
    rec.consecutiveGateway = gateway ? rec.consecutiveGateway + 1 : 0;
    const t = this.now();
    if (rec.ejectedUntil > t) return false;
    const tripped = (od.consecutive5xxErrors > 0 && rec.consecutive5xx >= od.consecutive5xxErrors) || (od.consecutiveGatewayErrors > 0 && rec.consecutiveGateway >= od.consecutiveGatewayErrors);
    if (!tripped) return false;
    // Envoy's limit: no ejection once the ejected share of the service reaches maxEjectionPercent.
    let ejected = 0;
    for (const o of this.health.values()) if (o.key === key && o.ejectedUntil > t) ejected++;
    if ((100 * ejected) / Math.max(1, hosts) >= od.maxEjectionPercent) return false;
    rec.ejections++;
    rec.ejectedUntil = t + od.baseEjectionTimeMs * rec.ejections;
    rec.consecutive5xx = 0;
    rec.consecutiveGateway = 0;
    return true;
  }

  /** Whether `endpoint` is ejected now. */
  ejected(endpoint: string): boolean {
    return (this.health.get(endpoint)?.ejectedUntil ?? 0) > this.now();
  }

  /** Counts a request to `name` (an endpoint, or a service port) as in flight; give the record back to leave() once, when it ends. */
  enter(name: string): InFlight {
    const c = this.count(name);
    c.n++;
    return c;
  }

  /** The request enter() counted has ended. */
  leave(name: string, c: InFlight): void {
    if (--c.n === 0 && this.inflight.size > MAX_KEPT_COUNTS) this.inflight.delete(name);
  }

  private count(name: string): InFlight {
    let c = this.inflight.get(name);
    if (!c) this.inflight.set(name, (c = { n: 0 }));
    return c;
  }

  /** Requests in flight to an endpoint ("workload:port") or to a service port ("host:port"). */
  load(endpoint: string): number {
    return this.inflight.get(endpoint)?.n ?? 0;
  }
}
