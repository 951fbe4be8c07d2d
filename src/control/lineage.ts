// Which certificates speak for which workload instance: those the CA issued to it since its last bootstrap (the
// current one and the few before it that may still be in use during rotation). A certificate proves a service
// account; the lineage proves the instance, so another instance of the same service account cannot open this one's
// stream or renew as it. Kept in the state directory: a restarted control plane must not take the first certificate
// it sees for an instance at its word.
import { existsSync, readFileSync } from "node:fs";
import { saveStateFile } from "../store/state-file.js";

/** How many certificates of one instance stay good: the current one and those still in rotation overlap. */
const KEEP = 3;

export class Lineage {
  private readonly serials = new Map<string, string[]>();

  constructor(private readonly file?: string, onError?: (e: string) => void) {
    if (!file || !existsSync(file)) return;
    try {
      for (const [id, list] of Object.entries(JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)) {
        if (Array.isArray(list) && list.every((s) => typeof s === "string")) this.serials.set(id, list.slice(-KEEP) as string[]);
      }
    } catch (e) {
      // Without it every instance must bootstrap again: safe, and said.
      onError?.(`${file}: ${(e as Error).message}`);
    }
  }

  /** Whether `serial` is one of the instance's current certificates. */
  speaksFor(instance: string, serial: string): boolean {
    return this.serials.get(instance)?.includes(serial) ?? false;
  }

  /** A certificate issued on a bootstrap credential starts the instance's lineage again; a renewal extends it. */
  issued(instance: string, serial: string, bootstrap: boolean): void {
    this.serials.set(instance, [...(bootstrap ? [] : this.serials.get(instance) ?? []), serial].slice(-KEEP));
    if (!this.file) return;
    saveStateFile(this.file, Object.fromEntries(this.serials));
  }
}
