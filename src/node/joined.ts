// A node of a mesh whose control plane runs on another machine (`zeromesh node --join ADDR`), as a kubelet is to
// its API server: it joins with its join credential, runs the pods of the workloads assigned to it (node agent),
// routes to the other nodes' pods, and follows the configuration the control plane pushes it. Pods' sidecars dial
// the control plane themselves. If the stream drops, the pods stay and the node joins again.
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { convertObjects } from "../api/convert.js";
import { errorsOf, formatIssue } from "../api/errors.js";
import { NODE_AUTH_SCHEME, NODE_PATHS, type NodeConfig } from "../control/node-protocol.js";
import { onJsonLines } from "../wire/ndjson.js";
import { checkControlIdentity } from "../wire/protocol.js";
import { Registry } from "../registry/registry.js";
import { Snapshot } from "../store/snapshot.js";
import { NodeAgent, type PodInfo } from "./agent.js";

/** What `zeromesh node-token` writes: handed to the node out of band, read from a file. */
export interface JoinFile {
  node: string;
  token: string;
  /** The mesh root: the node trusts the control plane it joins by it. */
  rootPem: string;
}

export interface JoinedNodeOptions {
  /** The control plane's proxies' endpoint, "ADDR:PORT", as the node and its pods reach it. */
  control: string;
  join: JoinFile;
  runCommands?: boolean;
  /** The join file read again before each rejoin: a new credential is picked up without a restart (the node's name must stay). */
  reload?: () => JoinFile;
  log: (line: string) => void;
  onPod?: (pod: PodInfo, up: boolean) => void;
}

const MAX_CONFIG_BYTES = 256 * 1024 * 1024;
const RETRY_MS = [500, 1000, 2000, 5000];

export class JoinedNode {
  private session?: ClientHttp2Session;
  private stream?: ClientHttp2Stream;
  private agent?: NodeAgent;
  private registry?: Registry;
  private queue = Promise.resolve();
  private reconciling?: Promise<void>;
  private again = false;
  private stopped = false;
  private attempts = 0;
  private firstConfig?: (c: NodeConfig) => void;
  /** The stream is new: the control plane may have forgotten this node's pods (it restarted, or saw the node leave). */
  private rejoined = false;

  constructor(private readonly opts: JoinedNodeOptions) {}

  /** Joins; resolves with the pod CIDR once the first configuration is in place. */
  start(): Promise<{ podCidr: string; gateway: string }> {
    const first = new Promise<NodeConfig>((resolve) => (this.firstConfig = resolve));
    this.open();
    return first.then(async (c) => {
      await this.queue;
      return { podCidr: c.node.podCidr, gateway: this.agent!.gateway };
    });
  }

  private connectSession(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    this.session = connect(`https://${this.opts.control}`, { ca: this.opts.join.rootPem, checkServerIdentity: checkControlIdentity });
    this.session.on("error", () => {});
    return this.session;
  }

  private open(): void {
    this.rejoined = true;
    if (this.agent && this.opts.reload) {
      try {
        const fresh = this.opts.reload();
        if (fresh.node === this.opts.join.node) this.opts.join.token = fresh.token;
        else this.opts.log(`the join file now names node ${fresh.node}, not ${this.opts.join.node}: ignored`);
      } catch (e) {
        this.opts.log(`the join file could not be read again: ${(e as Error).message}`);
      }
    }
    const stream = this.connectSession().request({ ":method": "POST", ":path": NODE_PATHS.stream, authorization: `${NODE_AUTH_SCHEME}${this.opts.join.token}` });
    this.stream = stream;
    let status = 0;
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      if (status === 200) this.attempts = 0;
    });
    stream.setEncoding("utf8");
    let refusal = "";
    onJsonLines<NodeConfig & { error?: string }>(stream, (m) => {
      if (status !== 200) return void (refusal = m.error ?? JSON.stringify(m));
      if (m.type === "config") this.queue = this.queue.then(() => this.apply(m)).catch((e: Error) => this.opts.log(`configuration v${m.version} not applied: ${e.message}`));
    }, { maxLine: MAX_CONFIG_BYTES, onBad: (why) => (this.opts.log(`control plane stream: ${why}`), stream.close()) });
    stream.on("error", () => {});
    stream.on("close", () => {
      if (this.stopped) return;
      const wait = RETRY_MS[Math.min(this.attempts++, RETRY_MS.length - 1)]!;
      this.opts.log(`not joined to ${this.opts.control}${status && status !== 200 ? ` (${status}: ${refusal})` : ""}; again in ${wait} ms`);
      this.session?.close();
      setTimeout(() => this.stopped || this.open(), wait).unref();
    });
    stream.end();
  }

  /** A unary call to the control plane as this node. */
  private call<T>(path: string, body: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = this.connectSession().request({ ":method": "POST", ":path": path, "content-type": "application/json", authorization: `${NODE_AUTH_SCHEME}${this.opts.join.token}` });
      let status = 0;
      let data = "";
      req.setEncoding("utf8");
      req.on("response", (h) => (status = Number(h[":status"])));
      req.on("data", (c: string) => (data += c));
      req.on("end", () => (status === 200 ? resolve(JSON.parse(data) as T) : reject(new Error(`${path} refused (${status}): ${data}`))));
      req.on("error", reject);
      req.setTimeout(10_000, () => (req.close(), reject(new Error(`${path} timed out`))));
      req.end(JSON.stringify(body));
    });
  }

  private async apply(c: NodeConfig): Promise<void> {
    const parsed = convertObjects(c.manifests, `node push v${c.version}`);
    const errs = errorsOf(parsed.issues);
    if (errs.length) throw new Error(errs.map(formatIssue).join("; "));
    this.registry = Registry.of(Snapshot.of(parsed.resources, c.mesh, c.version));
    if (this.agent && this.agent.podCidr !== c.node.podCidr) {
      // The control plane gave this node another CIDR (it restarted and forgot): the pods start again in the new one.
      await this.reconciling;
      await this.agent.stop();
      this.agent = undefined;
    } else if (this.agent && this.rejoined) await this.agent.reannounce();
    this.rejoined = false;
    if (!this.agent) {
      const name = this.opts.join.node;
      const agent = new NodeAgent({
        node: name, name, podCidr: c.node.podCidr, control: () => this.opts.control, rootPem: this.opts.join.rootPem, forward: true,
        registry: () => this.registry!, runCommands: this.opts.runCommands, log: this.opts.log, onPod: this.opts.onPod,
        bootstrap: (workload) => this.call<{ token: string }>(NODE_PATHS.bootstrap, { workload }).then((r) => r.token),
        assignAddress: (workload, ip) => this.call(NODE_PATHS.pod, { workload, ip: ip ?? null }).then(() => {}),
        registerEndpoints: (workload, listeners) => this.call(NODE_PATHS.endpoints, { workload, listeners }).then(() => {}),
      });
      await agent.start();
      this.agent = agent;
    }
    await this.agent.applyServices(c.endpoints, c.routes);
    this.firstConfig?.(c);
    this.firstConfig = undefined;
    this.reconcile();
  }

  /** Pod changes run beside configuration updates (a pod takes a second); one pass at a time, again if asked meanwhile. */
  private reconcile(): void {
    if (this.reconciling) return void (this.again = true);
    this.reconciling = (async () => {
      do {
        this.again = false;
        await this.agent?.reconcile();
      } while (this.again && !this.stopped);
    })().finally(() => (this.reconciling = undefined));
  }

  /** Leaves: the stream closes (the control plane withdraws this node's endpoints), then every pod and rule goes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.close();
    this.session?.close();
    await this.queue;
    await this.reconciling;
    await this.agent?.stop();
  }
}
