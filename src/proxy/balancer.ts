// The live proxy's choice among a service's endpoints (DestinationRule
// `loadBalancer.simple`), and the in-flight request counts that least
// request needs. The engine asks; relays report when requests end.
import type { LoadBalancer } from "../policy/context.js";

export class Balancer {
  private readonly next = new Map<string, number>();
  private readonly inflight = new Map<string, number>();

  /** `random` is injectable so tests can draw fixed numbers. */
  constructor(private readonly random: () => number = Math.random) {}

  /** The index of the endpoint to use; `key` names the service port (round robin keeps its place per key). */
  pick(endpoints: readonly string[], key: string, lb: LoadBalancer): number {
    const n = endpoints.length;
    if (n <= 1) return 0;
    if (lb === "RANDOM") return Math.floor(this.random() * n);
    if (lb === "ROUND_ROBIN") {
      const i = this.next.get(key) ?? 0;
      this.next.set(key, i + 1);
      return i % n;
    }
    // Least request as Envoy does it when weights are equal: the less busy of two endpoints drawn at random.
    const a = Math.floor(this.random() * n);
    let b = Math.floor(this.random() * (n - 1));
    if (b >= a) b++;
    return this.load(endpoints[b]!) < this.load(endpoints[a]!) ? b : a;
  }

  /** Counts a request to `endpoint` as in flight until the returned function is called (once is enough). */
  begin(endpoint: string): () => void {
    this.inflight.set(endpoint, this.load(endpoint) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = this.load(endpoint) - 1;
      if (left > 0) this.inflight.set(endpoint, left);
      else this.inflight.delete(endpoint);
    };
  }

  load(endpoint: string): number {
    return this.inflight.get(endpoint) ?? 0;
  }
}
