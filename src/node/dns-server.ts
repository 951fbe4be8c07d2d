// The pods' DNS server, as Kubernetes DNS with Istio's DNS proxying in front: a Service's names answer with its
// cluster IP, a ServiceEntry host with its address (given or allocated), any other name under the cluster domain
// is NXDOMAIN, and everything else goes to the node's own resolver. Packets are encoded and decoded by
// `dns-packet`; what to answer comes from the current configuration (registry/).
import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import * as packet from "dns-packet";
import { CLUSTER_DOMAIN } from "../registry/dns.js";

/** The addresses a fully qualified name has in the mesh, or undefined when the mesh does not know it. */
export type MeshResolver = (fqdn: string) => string[] | undefined;

/** The node's resolvers (its /etc/resolv.conf), for names the mesh does not hold. */
export function systemResolvers(file = "/etc/resolv.conf"): string[] {
  try {
    return [...readFileSync(file, "utf8").matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!).filter((a) => !a.startsWith("127."));
  } catch {
    return [];
  }
}

const TTL = 30;
/** Response codes, carried in the header's low four bits (dns-packet reads them into `rcode` but encodes only `flags`). */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;
type Rcode = keyof typeof RCODE;

/** The response code of a decoded message. */
export const rcodeOf = (p: packet.Packet): string => (p as packet.Packet & { rcode?: string }).rcode ?? "NOERROR";
const FORWARD_TIMEOUT_MS = 2000;

/** The answer to one query, or undefined to forward it. Pure. */
export function answer(query: packet.Packet, resolve: MeshResolver): packet.Packet | undefined {
  const q = query.questions?.[0];
  if (!q) return { type: "response", id: query.id, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | RCODE.FORMERR, questions: [], answers: [] };
  const name = q.name.toLowerCase().replace(/\.$/, "");
  const addresses = resolve(name);
  const inCluster = name === CLUSTER_DOMAIN || name.endsWith(`.${CLUSTER_DOMAIN}`);
  if (addresses === undefined && !inCluster) return undefined;
  const found = addresses ?? [];
  const response = (rcode: Rcode, answers: packet.Answer[]): packet.Packet => ({
    type: "response", id: query.id, flags: packet.AUTHORITATIVE_ANSWER | packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | RCODE[rcode],
    questions: [q], answers,
  });
  if (!found.length) return response("NXDOMAIN", []);
  // A known name has IPv4 addresses only: AAAA (and anything else) is an empty answer, not an error.
  if (q.type !== "A") return response("NOERROR", []);
  return response("NOERROR", found.map((data) => ({ type: "A", name: q.name, ttl: TTL, class: "IN", data }) as packet.Answer));
}

export class PodDns {
  private socket?: Socket;

  constructor(private readonly resolve: MeshResolver, private readonly upstreams: string[] = systemResolvers()) {}

  async listen(host: string, port = 53): Promise<string> {
    const socket = createSocket("udp4");
    this.socket = socket;
    socket.on("message", (msg, from) => void this.onQuery(msg).then((out) => out && socket.send(out, from.port, from.address)).catch(() => {}));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, host, () => resolve());
    });
    return `${host}:${socket.address().port}`;
  }

  private async onQuery(msg: Buffer): Promise<Buffer | undefined> {
    let query: packet.Packet;
    try {
      query = packet.decode(msg);
    } catch {
      return undefined; // not DNS: no answer
    }
    const mine = answer(query, this.resolve);
    if (mine) return packet.encode(mine);
    return (await this.forward(msg)) ?? packet.encode({ type: "response", id: query.id, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | RCODE.SERVFAIL, questions: query.questions, answers: [] });
  }

  /** The first upstream's answer, as it came ("ADDR", or "IPv4:PORT"). */
  private forward(msg: Buffer): Promise<Buffer | undefined> {
    const upstream = this.upstreams[0];
    if (!upstream) return Promise.resolve(undefined);
    const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(upstream);
    const [address, port] = m ? [m[1]!, Number(m[2])] : [upstream, 53];
    return new Promise((resolve) => {
      const s = createSocket(address.includes(":") ? "udp6" : "udp4");
      const done = (v: Buffer | undefined) => {
        clearTimeout(timer);
        s.close();
        resolve(v);
      };
      const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
      s.on("message", (reply) => done(reply));
      s.on("error", () => done(undefined));
      s.send(msg, port, address);
    });
  }

  close(): void {
    this.socket?.close();
  }
}
