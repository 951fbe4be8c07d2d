// The control plane's side of the nodes (node-protocol.ts): it authenticates each call by the node's join
// credential, gives a joining node its pod CIDR and routes, pushes it the configuration it runs pods from, and
// takes from it only what concerns workloads assigned to it — their pods' addresses inside its CIDR, their
// endpoints, and bootstrap credentials (so a node gets identities for its own workloads, never another's).
// A node whose stream closes has left: its workloads' endpoints go with it.
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { Codes, ZmError } from "../api/errors.js";
import type { JoinAuthority } from "../ca/join.js";
import type { Workload } from "../registry/model.js";
import { Registry } from "../registry/registry.js";
import type { Snapshot } from "../store/snapshot.js";
import { LIMITS, readBody } from "./limits.js";
import { NodeBook, type NodeRecord } from "./nodes.js";
import { buildNodeConfig, checkBootstrapAsk, checkEndpointReport, checkPodReport, NODE_AUTH_SCHEME, NODE_PATHS } from "./node-protocol.js";
import type { EndpointTable } from "../wire/protocol.js";

export interface NodeEndpointHost {
  snapshot(): Snapshot;
  assignPodAddress(workload: string, ip: string | undefined): void;
  registerEndpoints(workload: string, listeners: Record<string, string> | null): void;
  issueBootstrap(workload: string, by: string): string;
  /** The workload's proxy endpoints, withdrawn (its node left). */
  withdraw(workload: string): void;
  /** The connection carrying a joined node's stream: no longer an unauthenticated one (admission.ts). */
  authenticated(peer: { remoteAddress?: string; remotePort?: number }): void;
  /** Something nodes or proxies must hear about changed. */
  changed(): void;
  audit(event: string, fields: Record<string, unknown>): void;
}

interface NodeSession {
  stream: ServerHttp2Stream;
  sentJson?: string;
  keepalive: NodeJS.Timeout;
}

/** How often a joined node's stream carries a line when nothing changes: it is never idle long enough to be cut. */
const KEEPALIVE_MS = 30_000;

export class NodeEndpoint {
  readonly book: NodeBook;
  private readonly sessions = new Map<string, NodeSession>();
  /** Which node reported each workload's pod address or endpoints: withdrawn by that record, not by today's assignment. */
  private readonly owners = new Map<string, string>();
  private closing = false;

  constructor(private readonly join: JoinAuthority, private readonly host: NodeEndpointHost, reserved: () => string[] = () => [], bookFile?: string, private readonly local?: () => { podCidr: string; address: string } | undefined) {
    this.book = new NodeBook(reserved, bookFile);
  }

  /** Handles one `/v1/node/*` stream. */
  async onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, path: string): Promise<void> {
    const { node, expiresAt } = this.authenticate(headers);
    if (path === NODE_PATHS.stream) return this.open(stream, node, expiresAt);
    if (!this.sessions.has(node)) throw new ZmError(Codes.NODE, `node ${node} has not joined (open ${NODE_PATHS.stream} first)`);
    const text = await readBody(stream, LIMITS.csrBytes, headers["content-length"]);
    let answer: unknown;
    switch (path) {
      case NODE_PATHS.pod: {
        const r = checkPodReport(text);
        // Taking back what it reported is always a node's to do (its workload may have moved meanwhile).
        if (r.ip === null && this.owners.get(r.workload) === node) this.host.assignPodAddress(r.workload, undefined);
        else if (r.ip !== null) {
          this.assigned(node, r.workload);
          if (!this.book.holds(node, r.ip)) throw new ZmError(Codes.NODE, `${r.ip} is not one of node ${node}'s pod addresses (${this.book.get(node)!.podCidr}, .2 to .254)`);
          this.owners.set(r.workload, node);
          this.host.assignPodAddress(r.workload, r.ip);
        } else this.assigned(node, r.workload);
        answer = { ok: true };
        break;
      }
      case NODE_PATHS.bootstrap: {
        const w = this.assigned(node, checkBootstrapAsk(text).workload);
        answer = { token: this.host.issueBootstrap(w.id, `node ${node}`) };
        break;
      }
      case NODE_PATHS.endpoints: {
        const r = checkEndpointReport(text);
        if (r.listeners === null && this.owners.get(r.workload) === node) this.host.registerEndpoints(r.workload, null);
        else {
          const w = this.assigned(node, r.workload);
          // A workload with a sidecar announces its own listeners, over its own mTLS stream: a node never speaks for it.
          if (w.sidecar) throw new ZmError(Codes.NODE, `${r.workload} has a sidecar: its endpoints are its proxy's to announce`);
          const foreign = Object.values(r.listeners ?? {}).find((a) => !this.book.holds(node, a.slice(0, a.lastIndexOf(":"))));
          if (foreign) throw new ZmError(Codes.NODE, `${foreign} is not one of node ${node}'s pod addresses`);
          this.owners.set(r.workload, node);
          this.host.registerEndpoints(r.workload, r.listeners);
        }
        answer = { ok: true };
        break;
      }
      default:
        throw new ZmError(Codes.NOT_FOUND, `no such endpoint ${path}`);
    }
    stream.respond({ ":status": 200, "content-type": "application/json" });
    stream.end(JSON.stringify(answer));
  }

  /** Sends each joined node its configuration, when it changed. */
  push(snapshot: Snapshot, endpoints: EndpointTable, version: number): void {
    for (const [name, s] of this.sessions) {
      const node = this.book.get(name)!;
      const local = this.local?.();
      const routes = [...this.book.routesFor(name), ...(local ? [{ cidr: local.podCidr, via: local.address }] : [])];
      const config = buildNodeConfig(snapshot, { name, podCidr: node.podCidr }, routes, version, endpoints);
      const json = JSON.stringify({ ...config, version: 0 });
      if (json === s.sentJson) continue;
      s.sentJson = json;
      s.stream.write(JSON.stringify(config) + "\n");
    }
  }

  list(): (NodeRecord & { pods: number })[] {
    const reg = Registry.of(this.host.snapshot());
    return this.book.list().map((n) => ({ ...n, pods: reg.workloads.filter((w) => w.node === n.name).length }));
  }

  /** The control plane stops: streams close, and what the nodes reported stays (it is not their leaving). */
  close(): void {
    this.closing = true;
    for (const s of this.sessions.values()) {
      clearInterval(s.keepalive);
      s.stream.close();
    }
  }

  private authenticate(headers: IncomingHttpHeaders): { node: string; expiresAt: number } {
    const auth = headers["authorization"];
    if (typeof auth !== "string" || !auth.startsWith(NODE_AUTH_SCHEME)) throw new ZmError(Codes.NODE, `present a join credential: authorization: ${NODE_AUTH_SCHEME}<credential>`);
    return this.join.verify(auth.slice(NODE_AUTH_SCHEME.length), new Date());
  }

  /** The workload instance, if the configuration assigns it to `node`; else refused. */
  private assigned(node: string, id: string): Workload {
    const w = Registry.of(this.host.snapshot()).workload(id);
    if (!w) throw new ZmError(Codes.NODE, `no workload instance ${id} in the configuration`);
    if (w.node !== node) throw new ZmError(Codes.NODE, `${id} is not assigned to node ${node} (its nodeName is ${w.node ?? "unset: it runs on the control plane's machine"})`);
    return w;
  }

  private open(stream: ServerHttp2Stream, name: string, expiresAt: number): void {
    const address = (stream.session?.socket?.remoteAddress ?? "").replace(/^::ffff:/, "");
    // One connection per node: joining again ends the last one's (it holds no other node's streams).
    const old = this.sessions.get(name);
    if (old && old.stream.session !== stream.session) old.stream.session?.destroy();
    else old?.stream.close();
    const record = this.book.join(name, address);
    if (stream.session?.socket) this.host.authenticated(stream.session.socket);
    const keepalive = setInterval(() => stream.write(JSON.stringify({ type: "keepalive" }) + "\n"), KEEPALIVE_MS);
    keepalive.unref();
    // A credential is checked on every call, and a joined stream ends when its credential does: the node must rejoin
    // with a new one (timers cap at about 24.8 days; a longer credential is checked again then).
    const expiry = setTimeout(() => {
      this.host.audit("node-credential-expired", { node: name });
      stream.close();
    }, Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1));
    expiry.unref();
    const session: NodeSession = { stream, keepalive };
    this.sessions.set(name, session);
    this.host.audit("node-joined", { node: name, address, podCidr: record.podCidr });
    stream.respond({ ":status": 200, "content-type": "application/x-ndjson" });
    // The node says nothing on this stream; whatever it sends is read and dropped.
    stream.resume();
    stream.on("close", () => {
      clearInterval(keepalive);
      clearTimeout(expiry);
      if (this.sessions.get(name) !== session || this.closing) return;
      this.sessions.delete(name);
      this.book.leave(name);
      // Its pods are gone with it (or unreachable): what it reported goes now, not after a grace, and so do the
      // endpoints of its workloads' sidecars whose streams are gone too. (It reports its pods again if it rejoins.)
      const mine = new Set([...this.owners].filter(([, n]) => n === name).map(([w]) => w));
      for (const w of Registry.of(this.host.snapshot()).workloads) if (w.node === name) mine.add(w.id);
      for (const w of mine) {
        this.owners.delete(w);
        this.host.assignPodAddress(w, undefined);
        this.host.registerEndpoints(w, null);
        this.host.withdraw(w);
      }
      this.host.audit("node-left", { node: name });
      this.host.changed();
    });
    this.host.changed();
  }
}
