// The admin API, on loopback only: every call but the challenge signed with the admin credential
// (admin-credential.ts). apply and validate (all or nothing; apply waits until the proxies it concerns enforce it),
// get, proxy-status, proxy-config, sync, alerts, denials, check, workloads, bootstrap credentials, nodes and pods.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Codes, ZmError, errorsOf, formatIssue, type Issue } from "../api/errors.js";
import { manifestOf } from "../api/load.js";
import { mergeMeshConfig } from "../api/mesh.js";
import { keyOf } from "../api/types.js";
import { checkQuery, type CheckQuery } from "../policy/check-query.js";
import { Registry } from "../registry/registry.js";
import { parseTexts } from "../store/apply.js";
import type { ResourceKey } from "../store/store.js";
import { isListenerTable } from "../wire/protocol.js";
import type { AdminChallenges } from "./admin-credential.js";
import { LIMITS, parseJsonObject, readBody } from "./limits.js";
import { targetGroups } from "./prometheus-sd.js";
import type { ProxyStreams } from "./proxy-streams.js";
import { syncStatus } from "./push.js";
import type { Pusher } from "./pusher.js";
import { redactKeys } from "./redact.js";
import type { ControlState } from "./shared.js";
import { workloadView } from "./workload-view.js";

/** What the admin API asks of the control plane itself. */
export interface AdminPlane {
  readonly address: string;
  issueBootstrap(workload: string, by?: string): string;
  registerEndpoints(workload: string, listeners: Record<string, string> | null): void;
}

export class AdminApi {
  constructor(
    private readonly c: ControlState,
    private readonly challenges: AdminChallenges,
    private readonly pusher: Pusher,
    private readonly streams: ProxyStreams,
    private readonly plane: AdminPlane,
  ) {}

  private respond(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body, null, 2));
  }

  /** An admin call that failed: 4xx for the caller's mistakes (audited when it was refused), 500 for ours. */
  failed(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    const code = e instanceof ZmError ? e.code : "ZM_INTERNAL";
    const status = code === Codes.ADMIN_AUTH ? 401 : code === Codes.TOO_LARGE ? 413 : code === Codes.NOT_FOUND ? 404 : e instanceof ZmError ? 400 : 500;
    if (status === 401 || status === 413) this.c.audit("admin-refused", { route: `${req.method} ${(req.url ?? "").slice(0, 100)}`, from: req.socket.remoteAddress, status, why: (e as Error).message });
    if (res.headersSent) return void res.destroy();
    // A refused caller's connection goes once the answer is out: a body still arriving is not read.
    res.writeHead(status, { "content-type": "application/json", ...(status === 413 || status === 401 ? { connection: "close" } : {}) }).end(JSON.stringify({ error: (e as Error).message, code }, null, 2));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The one unauthenticated call: a challenge to sign a request over, with this control plane's proof that it holds
    // the credential (so a client never signs anything for a process squatting on this port).
    if (req.method === "GET" && req.url === "/v1/challenge") return this.respond(res, 200, this.challenges.issue());
    // The signature covers the body, so the body is read first (within the largest limit; a larger declared one is
    // refused before a byte of it is read).
    const text = await readBody(req, LIMITS.applyBytes, req.headers["content-length"]);
    const refused = this.challenges.verify(req.headers.authorization, req.method ?? "", req.url ?? "", text);
    if (refused) throw new ZmError(Codes.ADMIN_AUTH, refused);
    const url = new URL(req.url ?? "/", "http://admin");
    const route = `${req.method} ${url.pathname}`;
    const store = this.c.opts.store;
    switch (route) {
      case "GET /v1/proxy-status": {
        const reg = Registry.of(this.c.opts.store.snapshot());
        return this.respond(res, 200, [...this.c.proxies.values()].map((p) => ({ proxy: p.id, connected: p.connected, status: syncStatus(p), sent: p.sentVersion ?? null, acked: p.ackedVersion ?? null, nack: p.nack ?? null, pod: this.c.podAddresses.get(p.id) ?? null, node: reg.workload(p.id)?.node ?? null })));
      }
      case "GET /v1/nodes":
        return this.respond(res, 200, this.c.nodes?.list() ?? []);
      case "POST /v1/nodes/token": {
        if (!this.c.nodes || !this.c.opts.join) throw new ZmError(Codes.NODE, "this control plane takes no nodes (zeromesh up --listen ADDR)");
        const body = parseJsonObject<{ node: unknown }>(text);
        if (typeof body.node !== "string") throw new ZmError(Codes.BAD_MESSAGE, "a join credential request is {node: \"NAME\"}");
        const expires = new Date(Date.now() + (this.c.opts.joinTtlMs ?? 86_400_000));
        const token = this.c.opts.join.issue(body.node, expires);
        this.c.audit("join-credential-issued", { node: body.node, expires: expires.toISOString() });
        return this.respond(res, 200, { node: body.node, token, expires: expires.toISOString(), rootPem: this.c.opts.ca.rootPem });
      }
      case "GET /v1/pods":
        return this.respond(res, 200, this.c.opts.pods?.list() ?? []);
      case "POST /v1/pods": case "POST /v1/pods/delete": {
        if (!this.c.opts.pods) throw new ZmError(Codes.NO_PODS, "this control plane runs no pods (zeromesh up --loopback, or pods are unavailable on this machine: see its start-up message)");
        const body = parseJsonObject<{ workload: string }>(text);
        if (typeof body.workload !== "string" || !/^[a-z0-9-.]+\/[a-z0-9-.]+$/.test(body.workload)) throw new ZmError(Codes.BAD_MESSAGE, "a pod request is {workload: \"NS/NAME\"}");
        if (route === "POST /v1/pods/delete") {
          await this.c.opts.pods.deletePod(body.workload);
          this.c.opts.audit?.({ time: new Date().toISOString(), event: "pod-deleted", workload: body.workload });
          return this.respond(res, 200, { deleted: body.workload });
        }
        const pod = await this.c.opts.pods.createPod(body.workload).catch((e: Error) => {
          throw new ZmError(Codes.POD, `pod for ${body.workload}: ${e.message}`);
        });
        this.c.opts.audit?.({ time: new Date().toISOString(), event: "pod-created", workload: pod.id, ip: pod.ip, netns: pod.netns });
        return this.respond(res, 200, pod);
      }
      case "GET /v1/prometheus-targets":
        return this.respond(res, 200, targetGroups(this.c.proxies.values()));
      case "GET /v1/workloads": {
        const reg = Registry.of(store.snapshot());
        return this.respond(res, 200, reg.workloads.map((w) => {
          const p = this.c.proxies.get(w.id);
          return { id: w.id, owner: w.owner, namespace: w.namespace, spiffe: w.spiffe, sidecar: w.sidecar, gateway: w.gateway, status: p ? syncStatus(p) : null };
        }));
      }
      case "GET /v1/workload": {
        const id = url.searchParams.get("id") ?? "";
        const view = workloadView(store.snapshot(), id);
        if (!view) throw new ZmError(Codes.NOT_FOUND, `no workload ${JSON.stringify(id.slice(0, 100))} in the configuration`);
        const p = this.c.proxies.get(view.id);
        return this.respond(res, 200, { ...view, proxy: p ? { status: syncStatus(p), connected: p.connected, listeners: p.listeners, outbound: p.outbound ?? null, stats: p.stats ?? null, sent: p.sentVersion ?? null, acked: p.ackedVersion ?? null, certificate: p.certificate ?? null } : null });
      }
      case "POST /v1/check": {
        const body = parseJsonObject<CheckQuery>(text);
        const strings = (v: unknown) => v === undefined || (Array.isArray(v) && v.length <= 64 && v.every((h) => typeof h === "string"));
        if (typeof body.from !== "string" || typeof body.to !== "string" || !["string", "undefined"].includes(typeof body.via) || !["string", "undefined"].includes(typeof body.method) || !strings(body.headers)) {
          throw new ZmError(Codes.BAD_MESSAGE, "a check is {from: \"NS/WORKLOAD\"|\"outside\", via?: \"NS/SVC:PORT\", to: URL, method?, headers?: [\"name: value\"]}");
        }
        // The live configuration, as the proxies have it; the client's TLS trust is not asked for here.
        return this.respond(res, 200, await checkQuery(store.snapshot(), { from: body.from, via: body.via, to: body.to, method: body.method, headers: body.headers }));
      }
      case "GET /v1/denials":
        return this.respond(res, 200, this.streams.denials.list());
      case "GET /v1/alerts":
        return this.respond(res, 200, this.streams.alerts.list());
      case "GET /v1/alert-deliveries":
        return this.respond(res, 200, this.c.opts.notifier?.failures() ?? []);
      case "GET /v1/proxy-config": {
        const p = this.c.proxies.get(url.searchParams.get("proxy") ?? "");
        if (!p) throw new ZmError(Codes.NOT_FOUND, `no proxy ${url.searchParams.get("proxy")} has connected`);
        // As Envoy's config dump: private keys are never shown (the proxy holds them; an operator needs chains and serials).
        return this.respond(res, 200, { proxy: p.id, status: syncStatus(p), listeners: p.listeners, outbound: p.outbound, stats: p.stats ?? null, certificate: p.certificate ?? null, version: p.sentVersion ?? null, ...this.pusher.sentConfig(p) });
      }
      case "POST /v1/apply": case "POST /v1/validate": {
        const body = parseJsonObject<{ files: { file: string; text: string }[]; mesh?: unknown; remove?: ResourceKey[]; cause?: string; namespace?: string }>(text);
        if (!Array.isArray(body.files) || !body.files.every((f) => typeof f?.file === "string" && typeof f?.text === "string") || (body.remove !== undefined && !Array.isArray(body.remove)) || (body.namespace !== undefined && typeof body.namespace !== "string")) {
          throw new ZmError(Codes.BAD_MESSAGE, "an apply is {files: [{file, text}], mesh?, remove?: [{kind, namespace, name}], cause?, namespace?}");
        }
        const issues: Issue[] = [];
        const meshBase = store.snapshot().mesh;
        const mesh = body.mesh !== undefined ? mergeMeshConfig(meshBase, body.mesh, { file: body.cause ?? "apply", doc: 1, path: "mesh" }, issues) : undefined;
        const parsed = parseTexts(body.files, mesh ?? meshBase, body.namespace);
        issues.push(...parsed.issues);
        const errors = errorsOf(issues);
        if (errors.length) return this.respond(res, 422, { code: errors[0]!.code, errors: errors.map(formatIssue) });
        if (route === "POST /v1/validate") return this.respond(res, 200, { resources: parsed.resources.map(keyOf) });
        const event = store.commit({ upsert: parsed.resources, remove: body.remove ?? [], mesh: parsed.mesh ?? mesh, cause: body.cause ?? "admin apply" });
        // ?waitMs=N: answer once every proxy the change affects enforces it (kubectl's apply returns at once; a DENY
        // that is not yet enforced is a promise not kept, so zeromesh apply waits by default).
        const waitMs = Number(url.searchParams.get("waitMs") ?? 0);
        const enforced = waitMs > 0 ? await this.pusher.waitEnforced(event.version, Math.min(waitMs, LIMITS.maxSyncWaitMs)) : undefined;
        return this.respond(res, 200, { ...event, warnings: issues.map(formatIssue), ...(enforced ? { enforced } : {}) });
      }
      case "GET /v1/resources": {
        const kind = url.searchParams.get("kind");
        const ns = url.searchParams.get("namespace");
        const list = [...store.snapshot().resources.values()].filter((r) => (!kind || r.kind.toLowerCase() === kind.toLowerCase()) && (!ns || r.meta.namespace === ns));
        const mesh = store.snapshot().mesh;
        // The meshConfig fields `zeromesh analyze` reads, with the resources.
        return this.respond(res, 200, { version: store.snapshot().version, items: list.map((r) => redactKeys(manifestOf(r))), mesh: { rootNamespace: mesh.rootNamespace, defaultProviders: mesh.defaultProviders, extensionProviders: mesh.extensionProviders } });
      }
      case "POST /v1/bootstrap": {
        const body = parseJsonObject<{ workload?: unknown }>(text);
        if (typeof body.workload !== "string") throw new ZmError(Codes.BAD_MESSAGE, "a bootstrap request is {workload: \"ns/name\"}");
        const spiffe = Registry.of(store.snapshot()).workload(body.workload)?.spiffe;
        return this.respond(res, 200, { token: this.plane.issueBootstrap(body.workload, `admin API from ${req.socket.remoteAddress}`), spiffe, control: this.plane.address, rootPem: this.c.opts.ca.rootPem });
      }
      case "POST /v1/endpoints": {
        const body = parseJsonObject<{ workload: string; listeners: Record<string, string> | null }>(text);
        if (typeof body.workload !== "string" || (body.listeners !== null && !isListenerTable(body.listeners))) {
          throw new ZmError(Codes.BAD_MESSAGE, "an endpoint registration is {workload: \"ns/name\", listeners: {PORT: \"ADDR:PORT\"} | null}");
        }
        this.plane.registerEndpoints(body.workload, body.listeners);
        return this.respond(res, 200, { ok: true });
      }
      case "GET /v1/sync": {
        const expected = (url.searchParams.get("proxies") ?? "").split(",").filter(Boolean);
        const asked = Number(url.searchParams.get("timeoutMs") ?? 10_000);
        const ok = await this.pusher.waitSynced(expected, Number.isFinite(asked) ? Math.min(Math.max(asked, 0), LIMITS.maxSyncWaitMs) : 10_000);
        return this.respond(res, ok ? 200 : 504, { synced: ok, proxies: [...this.c.proxies.values()].map((p) => ({ proxy: p.id, status: syncStatus(p), connected: p.connected })) });
      }
      default:
        throw new ZmError(Codes.NOT_FOUND, `no admin route ${route}`);
    }
  }
}
