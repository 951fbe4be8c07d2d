// The node agent (a kubelet with istio-cni's part): runs this machine's workload instances as pods. For each, a
// network namespace with its own IP and the capture rules (pod-network.ts), and its sidecar inside it as its own
// user (Istio's 1337) with a bootstrap credential down its stdin; the application runs there too, as another user
// with no capabilities (`zeromesh run`, `zeromesh exec`). It also answers the pods' DNS (dns-server.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Registry } from "../registry/registry.js";
import { MeshProcess } from "../scenario/processes.js";
import { CAPTURE_INBOUND_PORT, OUTBOUND_PORT, UNCAPTURED_INBOUND_PORTS } from "../proxy/ports.js";
import type { EndpointTable } from "../wire/protocol.js";
import { PodDns } from "./dns-server.js";
import { createCsr } from "../ca/x509.js";
import { serviceRules, servicesJump } from "./services.js";
import { addressing, createPodNetwork, deletePodNetwork, ensureBridge, inPodAs, joinPodNetwork, leavePodNetwork, podAddress, removeBridge, removeStalePods, sh, syncRoutes, type NodeNetwork, type PodRoute } from "./pod-network.js";

/** The sidecar's user and group in every pod (Istio's 1337). */
export const PROXY_UID = 1337;

/**
 * Each pod's application runs as a user of its own (as distinct containers' users should be): one pod's application
 * cannot signal or trace another's, and so cannot send as it through that pod's sidecar. Numbered from the node's
 * name and the pod's address, far above the machine's own users.
 */
export function appUid(node: string, n: number): number {
  let h = 0;
  for (const c of node) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 200_000 + (h % 3000) * 256 + n;
}
/** Where the node's DNS proxy (Istio's, on 15053 in the agent) answers the applications of pods with sidecars. */
export const DNS_PROXY_PORT = 15053;

/** A node's run directory, /run/zeromesh/NODE: its pods' files, and its list of pods (pods-file.ts). */
export const nodeRunDir = (node: string): string => join("/run/zeromesh", node);

/** A pod without a sidecar is reached on its own address, at each of its ports. */
export const ownListeners = (ip: string, ports: number[]): Record<string, string> => Object.fromEntries(ports.map((p) => [String(p), `${ip}:${p}`]));

export interface PodInfo {
  /** The workload instance, "ns/name". */
  id: string;
  ip: string;
  netns: string;
  /** The user (and group) its application runs as. */
  uid: number;
}

interface Pod extends Omit<PodInfo, "netns" | "uid"> {
  /** Its address's number in the pod CIDR. */
  n: number;
  /** Set once its network exists. */
  netns?: string;
  proxy?: MeshProcess;
  /** Its sidecar holds its certificate and listens: the pod is in service. */
  ready?: boolean;
  /** No proxy: its application's ports are its endpoints. */
  plain: boolean;
  /** The cluster-IP rules its namespace holds now. */
  serviceRules?: string;
  /** Its manifest's command, running as the application. */
  app?: ChildProcess;
}

export interface NodeAgentOptions extends NodeNetwork {
  /** The configuration now (for each workload's identity and ports, and DNS answers). */
  registry: () => Registry;
  /**
   * The node's name: it runs the workloads whose pod template names it (`nodeName`). None: the control plane's own
   * machine, which runs the workloads no node is named for.
   */
  name?: string;
  /** Where sidecars reach the control plane's proxies' endpoint ("ADDR:PORT"), and the mesh root they trust. */
  control: () => string;
  rootPem: string;
  /** A one-time bootstrap credential for a workload instance. */
  bootstrap: (workload: string) => string | Promise<string>;
  /** Tells the control plane the pod's address (its proxy announces listeners there), or that it is gone. */
  assignAddress: (workload: string, ip: string | undefined) => void | Promise<void>;
  /** Registers the listeners of a pod without a proxy (its application's own ports), or removes them (null). */
  registerEndpoints: (workload: string, listeners: Record<string, string> | null) => void | Promise<void>;
  /** Run a manifest's command as the pod's application (a kubelet would run the image). */
  runCommands?: boolean;
  /**
   * A node among others from the start (`zeromesh node`): forwarding on and pod traffic leaving the pod network
   * masqueraded at once. Otherwise (the control plane's own machine) only once routes to other nodes arrive.
   */
  forward?: boolean;
  /** Addresses of names outside the mesh that the pods' DNS answers before asking the node's resolver (a scenario's external hosts). */
  outsideNames?: (host: string) => string[] | undefined;
  log?: (line: string) => void;
  /** A pod came into service (true) or was removed (false). */
  onPod?: (pod: PodInfo, up: boolean) => void;
}

export class NodeAgent {
  /** Pods by workload instance; a pod being made is here from its first step, with no sidecar yet. */
  private readonly pods = new Map<string, Pod>();
  private readonly dns: PodDns[] = [];
  /** The endpoints the cluster-IP rules are made from (the control plane's, at its latest push). */
  private endpoints: EndpointTable = {};
  /** Rule updates, one after another. */
  private servicesQueue = Promise.resolve();
  /** Routes to other nodes' pods now in place, and whether this node forwards and masquerades. */
  private routes = new Map<string, string>();
  private forwarding = false;
  readonly gateway: string;
  /** Where pods' files live (the root certificate their sidecars read): readable by the sidecars' user, so outside the 0700 state directory. */
  private readonly runDir: string;

  constructor(private readonly opts: NodeAgentOptions) {
    this.gateway = addressing(opts).gateway;
    this.runDir = nodeRunDir(opts.node);
  }

  get podCidr(): string {
    return this.opts.podCidr;
  }

  /** The node's bridge, and DNS for its pods on the bridge's address. */
  async start(): Promise<void> {
    const stale = await removeStalePods(this.opts);
    if (stale.length) this.opts.log?.(`removed ${stale.length} pod(s) a previous run of this node left: ${stale.join(", ")}`);
    await ensureBridge(this.opts);
    mkdirSync(this.runDir, { recursive: true, mode: 0o755 });
    chmodSync(this.runDir, 0o755);
    // Two views, as in Istio: the cluster DNS (Services, then the outside world) that proxies and pods without a
    // sidecar ask, and the DNS proxy that a sidecar's application is captured to, where ServiceEntry hosts also
    // have addresses (for its sidecar to route by) — addresses that mean nothing to anyone else.
    const cluster = (fqdn: string) => {
      const services = this.opts.registry().servicesByHostname(fqdn).filter((s) => s.source.startsWith("Service/"));
      return services.length ? services.flatMap((s) => s.addresses) : this.opts.outsideNames?.(fqdn);
    };
    const mesh = (fqdn: string) => {
      const services = this.opts.registry().servicesByHostname(fqdn);
      return services.length ? services.flatMap((s) => s.addresses) : cluster(fqdn);
    };
    for (const [resolve, port] of [[cluster, 53], [mesh, DNS_PROXY_PORT]] as const) {
      const dns = new PodDns(resolve);
      this.dns.push(dns);
      await dns.listen(this.gateway, port);
    }
  }

  list(): PodInfo[] {
    return [...this.pods.values()].filter((p) => p.ready).map((p) => this.info(p));
  }

  /**
   * Creates the pod of workload instance `id`, as Istio's injection would shape it: a workload with a sidecar gets the
   * capture rules and its sidecar; a gateway its proxy as the pod's only process, reached on the pod's own ports (no
   * capture, as in a gateway Deployment); a workload without a sidecar a plain pod, its application's ports
   * registered as its endpoints. Resolves once the pod is in service (its proxy, if any, holds its certificate and listens).
   */
  async createPod(id: string): Promise<PodInfo> {
    if (this.pods.has(id)) throw new Error(`${id} already has a pod on this node`);
    const reg = this.opts.registry();
    const w = reg.workload(id);
    if (!w) throw new Error(`no workload instance ${id} in the configuration`);
    if (w.node !== this.opts.name) throw new Error(`${id} is assigned to ${w.node ? `node ${w.node}` : "the control plane's machine"}, not ${this.opts.name ? `node ${this.opts.name}` : "this one"}`);
    // Taken before the first await: a second request for the same instance meanwhile is refused, never interleaved.
    const n = this.allocate();
    const pod: Pod = { id, n, ip: podAddress(this.opts, n), plain: !w.sidecar };
    this.pods.set(id, pod);
    const ports = reg.workloadPorts(w);
    const captured = w.sidecar && !w.gateway;
    // The sidecar's first key and CSR, made here while the network is (this process keeps the X.509 library loaded;
    // a sidecar would start a child process for it): handed down its stdin with its bootstrap credential.
    const keyAndCsr = pod.plain ? undefined : createCsr(w.spiffe);
    keyAndCsr?.catch(() => {});
    try {
      pod.netns = await createPodNetwork(this.opts, {
        pod: id, ip: pod.ip,
        capture: captured ? {
          inboundPort: CAPTURE_INBOUND_PORT, outboundPort: OUTBOUND_PORT, proxyUid: PROXY_UID, proxyGid: PROXY_UID, excludeInboundPorts: [...UNCAPTURED_INBOUND_PORTS],
          excludeOutbound: [{ address: this.gateway, port: 53 }], dnsProxy: { nameserver: this.gateway, port: DNS_PROXY_PORT },
        } : undefined,
        dns: { nameserver: this.gateway, search: [`${w.namespace}.svc.cluster.local`, "svc.cluster.local", "cluster.local"] },
      });
      await sh("ip", ["netns", "exec", pod.netns, "iptables-restore", "--noflush"], servicesJump());
      await this.applyServiceRules(pod, serviceRules(reg, this.endpoints));
      const dir = join(this.runDir, pod.netns);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, "root-cert.pem"), this.opts.rootPem, { mode: 0o644 });
      // The application starts beside its sidecar, as a pod's containers do (Istio does not hold it back by default):
      // what it sends before the sidecar listens is refused, never let through.
      if (this.opts.runCommands && w.command) pod.app = this.runApp(pod, w.command);
      await this.opts.assignAddress(id, pod.ip);
      if (pod.plain) await this.opts.registerEndpoints(id, ownListeners(pod.ip, ports));
      else {
        pod.proxy = new MeshProcess(`${w.gateway ? "gateway" : "sidecar"} ${id}`, [
          "proxy", "--workload", id, "--spiffe", w.spiffe, "--address", pod.ip, "--control", this.opts.control(),
          "--root-cert", join(dir, "root-cert.pem"), "--token-file", "-", "--ports", ports.join(","), "--access-log", "off",
          ...(captured ? ["--capture"] : ["--gateway"]),
        ], { stdin: JSON.stringify({ token: await this.opts.bootstrap(id), ...(await keyAndCsr) }), wrap: inPodAs(pod.netns, PROXY_UID, PROXY_UID, []) });
        await pod.proxy.waitFor((l) => l.type === "ready", 20_000);
      }
      pod.ready = true;
      this.opts.onPod?.(this.info(pod), true);
      this.opts.log?.(`pod ${id} at ${pod.ip} (network namespace ${pod.netns}${pod.plain ? ", no sidecar" : w.gateway ? ", gateway" : ""})`);
      return this.info(pod);
    } catch (e) {
      await this.teardown(pod);
      throw e;
    }
  }

  /** A manifest's command in its pod as the application would run (its output goes to this agent's log). */
  private runApp(pod: Pod, command: string[]): ChildProcess {
    const uid = appUid(this.opts.node, pod.n);
    const argv = inPodAs(pod.netns!, uid, uid, command);
    // Its own process group: what it forks goes with it.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/tmp" }, detached: true });
    const say = (d: Buffer) => this.opts.log?.(`${pod.id}: ${d.toString("utf8").trimEnd()}`);
    child.stdout!.on("data", say);
    child.stderr!.on("data", say);
    child.on("error", (e) => this.opts.log?.(`${pod.id}: ${command[0]} did not start: ${e.message}`));
    child.on("exit", (code, signal) => pod.ready && this.opts.log?.(`${pod.id}: its application exited (${signal ?? `code ${code}`})`));
    return child;
  }

  /**
   * Makes this node's pods follow the configuration, as a kubelet does: a pod for every workload instance assigned
   * to this node by name, none for one no longer assigned here (a node without a name makes pods only on request).
   */
  async reconcile(): Promise<void> {
    if (!this.opts.name) return;
    const wanted = new Set(this.opts.registry().workloads.filter((w) => w.node === this.opts.name).map((w) => w.id));
    const gone = [...this.pods.values()].filter((p) => p.ready && !wanted.has(p.id)).map((p) => this.deletePod(p.id));
    const made = [...wanted].filter((id) => !this.pods.has(id)).map((id) => this.createPod(id).catch((e: Error) => this.opts.log?.(`pod ${id} not made: ${e.message}`)));
    await Promise.all([...gone, ...made]);
  }

  /** Tells the control plane again what it knows of every pod here (after it lost it: the node rejoined). */
  async reannounce(): Promise<void> {
    const reg = this.opts.registry();
    for (const p of [...this.pods.values()].filter((x) => x.ready)) {
      await this.opts.assignAddress(p.id, p.ip);
      const w = reg.workload(p.id);
      if (p.plain && w) await this.opts.registerEndpoints(p.id, ownListeners(p.ip, reg.workloadPorts(w)));
    }
  }

  /**
   * New endpoints and routes (the control plane's push): every pod's cluster-IP rules follow, and this machine's
   * routes to the other nodes' pods; resolves once they are in place.
   */
  applyServices(endpoints: EndpointTable, routes: PodRoute[] = []): Promise<void> {
    this.endpoints = endpoints;
    const next = this.servicesQueue.then(async () => {
      if (!this.forwarding && (this.opts.forward || routes.length)) {
        await joinPodNetwork(this.opts);
        this.forwarding = true;
      }
      this.routes = await syncRoutes(this.routes, routes);
      const rules = serviceRules(this.opts.registry(), this.endpoints);
      await Promise.all([...this.pods.values()].filter((p) => p.netns).map((p) => this.applyServiceRules(p, rules)));
    });
    this.servicesQueue = next.catch((e: Error) => this.opts.log?.(`cluster-IP rules not applied: ${e.message}`));
    return this.servicesQueue;
  }

  private async applyServiceRules(p: Pod, rules: string): Promise<void> {
    if (p.serviceRules === rules) return;
    await sh("ip", ["netns", "exec", p.netns!, "iptables-restore", "--noflush"], rules);
    p.serviceRules = rules;
  }

  /** The argv that runs `command` in the pod of `id` as its application (no capabilities, another user than the sidecar's). */
  execArgv(id: string, command: string[]): string[] {
    const p = this.pods.get(id);
    if (!p?.ready) throw new Error(`${id} has no pod on this node`);
    const uid = appUid(this.opts.node, p.n);
    return inPodAs(p.netns!, uid, uid, command);
  }

  async deletePod(id: string): Promise<void> {
    const p = this.pods.get(id);
    if (!p?.ready) return; // none, one still being made (its own failure or success decides), or one going already
    p.ready = false;
    await this.teardown(p);
    this.opts.onPod?.(this.info(p), false);
    this.opts.log?.(`pod ${id} removed`);
  }

  /** Undoes whatever of the pod was made: its sidecar, its address at the control plane, its network and files. */
  private async teardown(p: Pod): Promise<void> {
    if (p.app?.pid) {
      try {
        process.kill(-p.app.pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await p.proxy?.stop();
    // The control plane may be gone already (a node stopping after it): the pod goes all the same.
    if (p.plain) await Promise.resolve(this.opts.registerEndpoints(p.id, null)).catch(() => {});
    await Promise.resolve(this.opts.assignAddress(p.id, undefined)).catch(() => {});
    // Only what this agent made: a createPodNetwork that failed has removed its own half already.
    if (p.netns) {
      await deletePodNetwork(this.opts, p.id);
      rmSync(join(this.runDir, p.netns), { recursive: true, force: true });
    }
    this.pods.delete(p.id);
  }

  /** Removes every pod, the DNS server and the bridge. */
  async stop(): Promise<void> {
    await Promise.all([...this.pods.keys()].map((id) => this.deletePod(id)));
    await this.servicesQueue;
    this.routes = await syncRoutes(this.routes, []);
    if (this.forwarding) await leavePodNetwork(this.opts);
    for (const d of this.dns.splice(0)) d.close();
    await removeBridge(this.opts);
    rmSync(this.runDir, { recursive: true, force: true });
  }

  private info(p: Pod): PodInfo {
    return { id: p.id, ip: p.ip, netns: p.netns!, uid: appUid(this.opts.node, p.n) };
  }

  /** The lowest address number no pod holds. */
  private allocate(): number {
    const used = new Set([...this.pods.values()].map((p) => p.n));
    for (let n = 2; n <= 254; n++) if (!used.has(n)) return n;
    throw new Error(`pod CIDR ${this.opts.podCidr} is full`);
  }
}
