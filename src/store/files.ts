import { watch, type FSWatcher } from "node:fs";
import { formatIssue, errorsOf, type Issue } from "../api/errors.js";
import type { MeshConfig } from "../api/mesh.js";
import { keyOf } from "../api/types.js";
import { parseFiles } from "./apply.js";
import type { ConfigStore } from "./store.js";

/**
 * Keeps a store equal to the contents of some files or directories. Each
 * reload is all-or-nothing: a reload with any error leaves the store as it
 * was and reports the issues.
 */
export class FileSource {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private owned = new Set<string>();

  constructor(
    private readonly store: ConfigStore,
    private readonly paths: string[],
    private readonly baseMesh: MeshConfig,
    private readonly report: (issues: Issue[]) => void = () => {},
    private readonly debounceMs = 100,
  ) {}

  /** Loads once; returns the issues (the store changed only when there were no errors). */
  load(): Issue[] {
    const parsed = parseFiles(this.paths, this.baseMesh);
    if (errorsOf(parsed.issues).length) return parsed.issues;
    const keys = new Set(parsed.resources.map(keyOf));
    const remove = [...this.owned].filter((k) => !keys.has(k)).map((k) => {
      const [kind, namespace, name] = k.split("/");
      return { kind: kind!, namespace: namespace!, name: name! };
    });
    this.store.commit({ upsert: parsed.resources, remove, mesh: parsed.mesh ?? this.baseMesh, cause: `files ${this.paths.join(", ")}` });
    this.owned = keys;
    return parsed.issues;
  }

  watch(): void {
    for (const p of this.paths) {
      this.watchers.push(watch(p, { recursive: true }, () => {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.report(this.load()), this.debounceMs);
      }));
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}

export function describeIssues(issues: Issue[]): string {
  return issues.map(formatIssue).join("\n");
}
