// A map for memos whose keys come from outside (callers, hosts, principals):
// when it holds `max` entries it starts again, so its memory has a bound and
// the keys in use come right back. One home for the bound every such memo needs.
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}
