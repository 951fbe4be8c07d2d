// The control plane's own state files (endpoint book, spent bootstrap credentials, certificate lineage): written
// aside and renamed, so a crash mid-write leaves the last whole file, and readable by their owner only.
import { renameSync, writeFileSync } from "node:fs";

export function saveStateFile(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(value), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
