// Connection pools and HTTP/2 sessions by next hop, kept while they are used.
// Under ALLOW_ANY every outside host:port is a key of its own, so without
// eviction a proxy's memory grows with every destination it ever saw.

export interface IdleCacheOptions<V> {
  /** Unused this long (and not busy), an entry is closed: the keep-alive time, so nothing warm is lost. */
  idleMs: number;
  /** Beyond this many entries, the least recently used idle ones are closed at once. */
  max: number;
  /** Whether an entry has requests in flight (it is never evicted then). */
  busy: (v: V) => boolean;
  close: (v: V) => void;
  now?: () => number;
}

/** A default made once (a default parameter's arrow would be a new function on every call). */
const always = () => true;

interface Entry<V> {
  value: V;
  /** When it was last used, and its place in the order of use. */
  used: number;
  use: number;
}

export class IdleCache<V> {
  /** Each entry with when it was last used. A hit only stamps the time: ordering by use is paid for when over the cap. */
  private readonly entries = new Map<string, Entry<V>>();
  /** Counts uses: the order of use, which a clock that did not move cannot tell. */
  private uses = 0;
  private readonly now: () => number;
  private lastSweep: number;

  constructor(private readonly o: IdleCacheOptions<V>) {
    this.now = o.now ?? Date.now;
    this.lastSweep = this.now();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry for `key` (made by `create` when missing or no longer `usable`), marked used now. */
  get(key: string, create: () => V, usable: (v: V) => boolean = always): V {
    return this.use(key, usable) ?? this.add(key, create());
  }

  /**
   * The entry for `key` when there is one still `usable`, marked used now; else undefined (and an unusable one is
   * forgotten). With add(), what get() does without a function made per call: a hit is every request's path.
   */
  use(key: string, usable: (v: V) => boolean = always): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (!usable(e.value)) {
      this.entries.delete(key);
      return undefined;
    }
    const now = this.now();
    e.used = now;
    e.use = ++this.uses;
    // Sweeping costs a pass over the entries: at most every quarter of idleMs, or when over the cap. The entry asked
    // for is marked used first, so a sweep never closes what is about to be handed out.
    if (now - this.lastSweep >= this.o.idleMs / 4) this.sweep(now);
    return e.value;
  }

  /** Keeps `value` as the entry for `key` (which use() did not find), closing idle ones first when due or over the cap. */
  add(key: string, value: V): V {
    const now = this.now();
    if (now - this.lastSweep >= this.o.idleMs / 4 || this.entries.size >= this.o.max) this.sweep(now, 1);
    this.entries.set(key, { value, used: now, use: ++this.uses });
    return value;
  }

  /** Forgets `key` if it still holds `value` (an entry that closed by itself). */
  delete(key: string, value: V): void {
    if (this.entries.get(key)?.value === value) this.entries.delete(key);
  }

  /**
   * Closes idle entries unused for idleMs, and the least recently used idle ones beyond the cap.
   * `room`: places to keep free (get() is about to add one).
   */
  sweep(now = this.now(), room = 0): void {
    this.lastSweep = now;
    const idle: [string, Entry<V>][] = [];
    for (const entry of this.entries) if (!this.o.busy(entry[1].value)) idle.push(entry);
    idle.sort((a, b) => a[1].use - b[1].use);
    let over = this.entries.size + room - this.o.max;
    for (const [key, e] of idle) {
      if (now - e.used < this.o.idleMs && over <= 0) break;
      this.entries.delete(key);
      over--;
      this.o.close(e.value);
    }
  }

  /** Every entry, emptying the cache (for shutdown). */
  drain(): V[] {
    const all = [...this.entries.values()].map((e) => e.value);
    this.entries.clear();
    return all;
  }
}
