// A node's pod network on plain Linux, as a CNI bridge plugin builds it: one bridge per node with the pod CIDR's
// first address, and per pod a network namespace, a veth pair (host end on the bridge, pod end named eth0 with
// the pod's IP), loopback, a default route through the bridge, its DNS settings (`ip netns exec` mounts
// /etc/netns/NAME/resolv.conf over /etc/resolv.conf), unprivileged low ports (as container runtimes set), and the
// capture rules (capture.ts). Every step is an iproute2 or iptables command; removal undoes them all.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { captureRules, type CaptureOptions } from "./capture.js";

/** Runs one command (`input` on its stdin, which is closed either way); a failure says which command and what it printed. */
export function sh(cmd: string, args: string[], input = ""): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = execFile(cmd, args, (e, stdout, stderr) => (e ? reject(new Error(`${cmd} ${args.join(" ")}: ${(stderr || e.message).trim()}`)) : resolve(stdout)));
    // A command that reads nothing may be gone before its stdin closes: that is no error.
    child.stdin!.on("error", () => {}).end(input);
  });
}

const short = (s: string, n: number) => createHash("sha256").update(s).digest("hex").slice(0, n);

export interface NodeNetwork {
  /** Names this node's bridge and namespaces, so two meshes on one machine never share them. */
  node: string;
  /** The pod CIDR, a /24: "10.244.N.0/24". */
  podCidr: string;
}

export interface PodAddressing {
  bridge: string;
  /** The bridge's address: the pods' gateway, where the node's own services (control plane, DNS) listen for pods. */
  gateway: string;
  prefix: number;
}

export function addressing(net: NodeNetwork): PodAddressing {
  const [base, prefix] = net.podCidr.split("/") as [string, string];
  const octets = base.split(".").map(Number);
  if (octets.length !== 4 || Number(prefix) !== 24 || octets[3] !== 0) throw new Error(`pod CIDR ${net.podCidr}: a /24 network address is required`);
  return { bridge: `zmbr${short(net.node, 8)}`, gateway: `${octets.slice(0, 3).join(".")}.1`, prefix: 24 };
}

/** The pod's n-th address in the CIDR (n ≥ 2; .1 is the gateway). */
export function podAddress(net: NodeNetwork, n: number): string {
  if (!(n >= 2 && n <= 254)) throw new Error(`pod CIDR ${net.podCidr} has no address number ${n}`);
  return `${net.podCidr.split(".").slice(0, 3).join(".")}.${n}`;
}

const netnsPrefix = (net: NodeNetwork) => `zm-${short(net.node, 6)}-`;
export const netnsName = (net: NodeNetwork, pod: string) => `${netnsPrefix(net)}${short(pod, 8)}`;

/** Removes the pods a previous run of this node left (it crashed, or was killed): their namespaces take their veths along. */
export async function removeStalePods(net: NodeNetwork): Promise<string[]> {
  const prefix = netnsPrefix(net);
  const stale = (await sh("ip", ["netns", "list"])).split("\n").map((l) => l.split(" ")[0]!).filter((n) => n.startsWith(prefix));
  for (const ns of stale) {
    await sh("ip", ["netns", "del", ns]).catch(() => {});
    rmSync(join("/etc/netns", ns), { recursive: true, force: true });
  }
  return stale;
}
const hostVeth = (net: NodeNetwork, pod: string) => `zv${short(`${net.node}/${pod}`, 12)}`;

/** The first 10.244.N.0/24 that no address or route on this machine is in yet (so two meshes on one machine never share one). */
export async function freePodCidr(): Promise<string> {
  const used = (await sh("ip", ["-4", "-o", "addr", "show"])) + (await sh("ip", ["-4", "route", "show"]));
  for (let n = 0; n < 256; n++) if (!used.includes(`10.244.${n}.`)) return `10.244.${n}.0/24`;
  throw new Error("no free pod CIDR in 10.244.0.0/16 on this machine");
}

/** Creates the node's bridge (idempotent). */
export async function ensureBridge(net: NodeNetwork): Promise<PodAddressing> {
  const a = addressing(net);
  const exists = await sh("ip", ["link", "show", a.bridge]).then(() => true, () => false);
  if (!exists) {
    await sh("ip", ["link", "add", a.bridge, "type", "bridge"]);
    await sh("ip", ["addr", "add", `${a.gateway}/${a.prefix}`, "dev", a.bridge]);
  }
  await sh("ip", ["link", "set", a.bridge, "up"]);
  return a;
}

export async function removeBridge(net: NodeNetwork): Promise<void> {
  await sh("ip", ["link", "del", addressing(net).bridge]).catch(() => {});
}

export interface PodNetworkSpec {
  /** The workload instance, "ns/name". */
  pod: string;
  ip: string;
  /** The sidecar's transparent capture; none for a pod without a sidecar, or a gateway's. */
  capture?: CaptureOptions;
  dns: { nameserver: string; search: string[] };
}

/** Builds the pod's namespace on the node's bridge (ensureBridge first); on any failure, removes what was made. Returns the namespace's name. */
export async function createPodNetwork(net: NodeNetwork, spec: PodNetworkSpec): Promise<string> {
  const a = addressing(net);
  const ns = netnsName(net, spec.pod);
  const veth = hostVeth(net, spec.pod);
  const inPod = (...args: string[]) => sh("ip", ["netns", "exec", ns, ...args]);
  // A namespace of that name already there is another pod's (or a leftover removeStalePods handles): never ours to remove.
  await sh("ip", ["netns", "add", ns]);
  try {
    await sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    await sh("ip", ["link", "set", veth, "master", a.bridge, "up"]);
    await sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    await sh("ip", ["-n", ns, "addr", "add", `${spec.ip}/${a.prefix}`, "dev", "eth0"]);
    await sh("ip", ["-n", ns, "link", "set", "eth0", "up"]);
    await sh("ip", ["-n", ns, "route", "add", "default", "via", a.gateway]);
    // Applications bind their declared ports (80 too) without privileges, as in a container.
    await inPod("sysctl", "-qw", "net.ipv4.ip_unprivileged_port_start=0");
    // The capture is IPv4's: a pod has no IPv6 (link-local included), so nothing reaches a neighbour around it.
    await inPod("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    const etc = join("/etc/netns", ns);
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, "resolv.conf"), `nameserver ${spec.dns.nameserver}\nsearch ${spec.dns.search.join(" ")}\noptions ndots:5\n`);
    writeFileSync(join(etc, "hosts"), `127.0.0.1 localhost\n${spec.ip} ${spec.pod.split("/")[1]}\n`);
    if (spec.capture) await sh("ip", ["netns", "exec", ns, "iptables-restore", "--noflush"], captureRules(spec.capture));
    return ns;
  } catch (e) {
    await deletePodNetwork(net, spec.pod);
    throw e;
  }
}

/** Removes the pod's namespace (its veth and rules go with it) and its DNS files. Never throws. */
export async function deletePodNetwork(net: NodeNetwork, pod: string): Promise<void> {
  const ns = netnsName(net, pod);
  await sh("ip", ["link", "del", hostVeth(net, pod)]).catch(() => {});
  await sh("ip", ["netns", "del", ns]).catch(() => {});
  rmSync(join("/etc/netns", ns), { recursive: true, force: true });
}

/** The command line that runs `argv` inside the pod as `uid`:`gid`, with no capabilities (it cannot undo the capture). */
export function inPodAs(ns: string, uid: number, gid: number, argv: string[]): string[] {
  return ["ip", "netns", "exec", ns, "setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", ...argv];
}

/** Every node's pod CIDR lies in this network: traffic between pods crosses nodes by routes, unchanged. */
export const POD_NETWORK = "10.244.0.0/16";

const masquerade = (net: NodeNetwork) => ["-t", "nat", "POSTROUTING", "-s", net.podCidr, "!", "-d", POD_NETWORK, "-m", "comment", "--comment", `zeromesh node ${net.node}`, "-j", "MASQUERADE"];

/**
 * A node among others: it forwards (pods' traffic to other nodes' pods, by route), and what its pods send outside
 * the pod network leaves with the node's address (the bridge CNI plugin's ipMasq), so the control plane and the
 * outside world answer the node. Idempotent.
 */
export async function joinPodNetwork(net: NodeNetwork): Promise<void> {
  await sh("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
  const [t, nat, chain, ...rule] = masquerade(net);
  const present = await sh("iptables", [t!, nat!, "-C", chain!, ...rule]).then(() => true, () => false);
  if (!present) await sh("iptables", [t!, nat!, "-A", chain!, ...rule]);
}

/** Undoes joinPodNetwork's rule (forwarding stays on: other things on the machine may count on it). Never throws. */
export async function leavePodNetwork(net: NodeNetwork): Promise<void> {
  const [t, nat, chain, ...rule] = masquerade(net);
  await sh("iptables", [t!, nat!, "-D", chain!, ...rule]).catch(() => {});
}

/** Another node's pods: their CIDR, and the node's address that leads to them. */
export interface PodRoute {
  cidr: string;
  via: string;
}

/** Makes the routes to other nodes' pods `want` (CIDR → next hop); returns what is now in place. */
export async function syncRoutes(have: Map<string, string>, want: PodRoute[]): Promise<Map<string, string>> {
  const next = new Map(want.map((r) => [r.cidr, r.via]));
  for (const [cidr] of have) if (!next.has(cidr)) await sh("ip", ["route", "del", cidr]).catch(() => {});
  for (const [cidr, via] of next) if (have.get(cidr) !== via) await sh("ip", ["route", "replace", cidr, "via", via]);
  return next;
}
