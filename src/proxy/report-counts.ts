// Things a proxy counts between two reports to the control plane (blocked
// egress, denials): one entry per kind with a count and when it was first and
// last seen, at most `max` kinds (more are counted as dropped: a scan or a
// flood must not grow the proxy's memory), all taken at once by the report.
export interface Counted {
  count: number;
  first: string;
  last: string;
}

export class ReportCounts<T extends Counted> {
  private byKey = new Map<string, T>();
  private dropped = 0;

  constructor(private readonly max: number) {}

  /** One more of `key`; `make` describes it the first time, when there is room for it. */
  add(key: string, at: Date, make: () => Omit<T, keyof Counted>): void {
    const seen = this.byKey.get(key);
    if (seen) {
      seen.count++;
      seen.last = at.toISOString();
    } else if (this.byKey.size < this.max) {
      this.byKey.set(key, { ...make(), count: 1, first: at.toISOString(), last: at.toISOString() } as T);
    } else this.dropped++;
  }

  /** What was counted since the last take (nothing: undefined), and starts again. */
  take(): { items: T[]; dropped: number } | undefined {
    if (!this.byKey.size && !this.dropped) return undefined;
    const out = { items: [...this.byKey.values()], dropped: this.dropped };
    this.byKey = new Map();
    this.dropped = 0;
    return out;
  }
}
