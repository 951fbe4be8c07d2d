// The nodes that joined: each one's name, the address it joined from (where other nodes route its pods), and the
// pod CIDR the control plane gave it — kept when it leaves, so a node that rejoins gets its CIDR back.
import { existsSync, readFileSync } from "node:fs";
import { isIPv4 } from "node:net";
import { ipInBlocks } from "../api/cidr.js";
import { saveStateFile } from "../store/state-file.js";
import type { PodRoute } from "../node/pod-network.js";

export interface NodeRecord {
  name: string;
  address: string;
  podCidr: string;
  connected: boolean;
  since: string;
}

/** Joined nodes' pod CIDRs: 10.244.128.0/24 upwards (the control plane's own machine takes the lowest free ones). */
const FIRST = 128;

export class NodeBook {
  private readonly nodes = new Map<string, NodeRecord>();

  /**
   * `reserved`: CIDRs never given out (the control plane's own machine's pods). `file`: where the book is kept, so
   * that after a restart each node gets its CIDR back and its pods keep their addresses.
   */
  constructor(private readonly reserved: () => string[] = () => [], private readonly file?: string) {
    if (!file || !existsSync(file)) return;
    try {
      for (const n of JSON.parse(readFileSync(file, "utf8")) as NodeRecord[]) {
        if (typeof n?.name === "string" && typeof n.podCidr === "string" && typeof n.address === "string") this.nodes.set(n.name, { ...n, connected: false });
      }
    } catch {
      // An unreadable book gives nodes new CIDRs: their pods start again, nothing is mixed up.
    }
  }

  join(name: string, address: string): NodeRecord {
    const known = this.nodes.get(name);
    const record: NodeRecord = { name, address, podCidr: known?.podCidr ?? this.allocate(), connected: true, since: new Date().toISOString() };
    this.nodes.set(name, record);
    this.save();
    return record;
  }

  leave(name: string): void {
    const n = this.nodes.get(name);
    if (n) n.connected = false;
    this.save();
  }

  private save(): void {
    if (this.file) saveStateFile(this.file, this.list());
  }

  get(name: string): NodeRecord | undefined {
    return this.nodes.get(name);
  }

  list(): NodeRecord[] {
    return [...this.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** How node `name` (or, without one, the control plane's own machine) reaches every other joined node's pods. */
  routesFor(name?: string): PodRoute[] {
    return this.list().filter((n) => n.connected && n.name !== name).map((n) => ({ cidr: n.podCidr, via: n.address }));
  }

  /** Whether `ip` (dotted IPv4) is one of node `name`'s pod addresses: in its /24, not the network, its bridge (.1) or broadcast. */
  holds(name: string, ip: string): boolean {
    const n = this.nodes.get(name);
    const last = Number(ip.split(".")[3]);
    return !!n && isIPv4(ip) && last >= 2 && last <= 254 && ipInBlocks(ip, [n.podCidr]);
  }

  private allocate(): string {
    const taken = new Set([...[...this.nodes.values()].map((n) => n.podCidr), ...this.reserved()]);
    for (let k = FIRST; k < 256; k++) if (!taken.has(`10.244.${k}.0/24`)) return `10.244.${k}.0/24`;
    throw new Error("no pod CIDR left in 10.244.128.0/17 for another node");
  }
}
