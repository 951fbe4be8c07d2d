import { Codes, type Issue, type Location } from "./errors.js";

/**
 * Walks one raw YAML value with its path, collecting precise issues instead
 * of throwing, so a document reports every problem at once. Every converter
 * reads raw manifests only through this class.
 */
export class Reader {
  constructor(
    readonly value: unknown,
    readonly path: string,
    private readonly at: Location,
    private readonly issues: Issue[],
    /** Istio specs are strict (unknown fields rejected); Kubernetes objects are read leniently. */
    readonly strict: boolean,
    /** Proto3 JSON, as Istio reads meshConfig: an integer may be written as a string ("9000"), strict or not. */
    private readonly proto3 = false,
  ) {}

  static root(value: unknown, at: Location, issues: Issue[], strict: boolean, proto3 = false): Reader {
    return new Reader(value, "", at, issues, strict, proto3);
  }

  error(message: string, path = this.path): void {
    this.issues.push({ code: Codes.INVALID, severity: "error", at: { ...this.at, path: path || undefined }, message });
  }
  warn(message: string, path = this.path): void {
    this.issues.push({ code: Codes.INVALID, severity: "warning", at: { ...this.at, path: path || undefined }, message });
  }

  get present(): boolean {
    return this.value !== undefined && this.value !== null;
  }

  private childPath(key: string | number): string {
    if (typeof key === "number") return `${this.path}[${key}]`;
    return this.path ? `${this.path}.${key}` : key;
  }

  /** A child field of an object; reports a type error when this is not an object. */
  field(key: string): Reader {
    const obj = this.objectValue();
    return new Reader(obj ? obj[key] : undefined, this.childPath(key), this.at, this.issues, this.strict, this.proto3);
  }

  private objectValue(): Record<string, unknown> | undefined {
    if (!this.present) return undefined;
    if (typeof this.value !== "object" || Array.isArray(this.value)) return undefined;
    return this.value as Record<string, unknown>;
  }

  /** Asserts an object (or absent) and, when strict, that it holds only `known` keys. */
  object(known?: readonly string[]): this {
    if (!this.present) return this;
    if (typeof this.value !== "object" || Array.isArray(this.value)) {
      this.error(`must be an object, got ${describe(this.value)}`);
      return this;
    }
    if (known && this.strict) {
      for (const k of Object.keys(this.value as object)) {
        if (!known.includes(k)) this.error(`unknown field "${k}"`, this.childPath(k));
      }
    }
    return this;
  }

  keys(): string[] {
    const o = this.objectValue();
    return o ? Object.keys(o) : [];
  }

  string(opts: { required?: boolean } = {}): string | undefined {
    if (!this.present) {
      if (opts.required) this.error("is required");
      return undefined;
    }
    if (typeof this.value === "string") return this.value;
    if (typeof this.value === "number" || typeof this.value === "boolean") {
      if (this.strict) {
        this.error(`must be a string, got ${describe(this.value)}`);
        return undefined;
      }
      return String(this.value);
    }
    this.error(`must be a string, got ${describe(this.value)}`);
    return undefined;
  }

  /** A string that must be one of `values`; returns `dflt` when absent. */
  enumOf<T extends string>(values: readonly T[], dflt?: T): T | undefined {
    const s = this.string();
    if (s === undefined) return dflt;
    if (!values.includes(s as T)) {
      this.error(`must be one of ${values.join(", ")}, got "${s}"`);
      return dflt;
    }
    return s as T;
  }

  bool(dflt = false): boolean {
    if (!this.present) return dflt;
    if (typeof this.value === "boolean") return this.value;
    if (this.value === "true" || this.value === "false") {
      if (!this.strict) return this.value === "true";
    }
    this.error(`must be true or false, got ${describe(this.value)}`);
    return dflt;
  }

  int(opts: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    if (!this.present) {
      if (opts.required) this.error("is required");
      return undefined;
    }
    let n: number | undefined;
    if (typeof this.value === "number" && Number.isInteger(this.value)) n = this.value;
    else if ((!this.strict || this.proto3) && typeof this.value === "string" && /^-?\d+$/.test(this.value)) n = Number(this.value);
    if (n === undefined) {
      this.error(`must be an integer, got ${describe(this.value)}`);
      return undefined;
    }
    return this.inRange(n, opts);
  }

  private inRange(n: number, opts: { min?: number; max?: number }): number | undefined {
    if ((opts.min === undefined || n >= opts.min) && (opts.max === undefined || n <= opts.max)) return n;
    this.error(opts.max === undefined ? `must be at least ${opts.min}, got ${n}` : opts.min === undefined ? `must be at most ${opts.max}, got ${n}` : `must be between ${opts.min} and ${opts.max}, got ${n}`);
    return undefined;
  }

  /** A real number (a percentage, a weight given as a double). */
  number(opts: { min?: number; max?: number } = {}): number | undefined {
    if (!this.present) return undefined;
    if (typeof this.value !== "number" || !Number.isFinite(this.value)) {
      this.error(`must be a number, got ${describe(this.value)}`);
      return undefined;
    }
    return this.inRange(this.value, opts);
  }

  port(opts: { required?: boolean } = {}): number | undefined {
    return this.int({ ...opts, min: 1, max: 65535 });
  }

  /** Each element of a list (absent → empty); reports a type error otherwise. */
  list(opts: { required?: boolean } = {}): Reader[] {
    if (!this.present) {
      if (opts.required) this.error("is required");
      return [];
    }
    if (!Array.isArray(this.value)) {
      this.error(`must be a list, got ${describe(this.value)}`);
      return [];
    }
    return this.value.map((v, i) => new Reader(v, this.childPath(i), this.at, this.issues, this.strict, this.proto3));
  }

  strings(opts: { required?: boolean } = {}): string[] {
    const out: string[] = [];
    for (const item of this.list(opts)) {
      const s = item.string({ required: true });
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /** A required list of strings that must not be empty. */
  nonEmptyStrings(what = "at least one host"): string[] {
    const out = this.strings({ required: true });
    if (Array.isArray(this.value) && this.value.length === 0) this.error(`must list ${what}`);
    return out;
  }

  /** A map of string to string (labels, selectors, annotations). */
  stringMap(): Record<string, string> {
    const out: Record<string, string> = {};
    this.object();
    for (const k of this.keys()) {
      const v = this.field(k).string();
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `string "${v.length > 40 ? v.slice(0, 40) + "…" : v}"`;
  return `${typeof v} ${String(v)}`;
}
