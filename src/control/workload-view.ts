// One workload as an operator asks about it (the dashboard's workload and
// egress pages): who it is, which Sidecar scopes it, which mTLS mode each of
// its ports takes, which policies apply and what each says, and what it may
// reach. Pure: everything is read off a snapshot with the engine's own
// choosers (sidecar-scope, peer-authn, the policy index), so the page and the
// proxies can never disagree on which resource applies.
import { manifestOf } from "../api/convert.js";
import type { Resource } from "../api/types.js";
import { PolicyIndex } from "../policy/index.js";
import { effectiveMtls } from "../policy/peer-authn.js";
import { inEgressScope, outboundMode, sidecarFor, sidecarName } from "../policy/sidecar-scope.js";
import type { Snapshot } from "../store/snapshot.js";

export interface WorkloadView {
  id: string;
  owner: string;
  namespace: string;
  serviceAccount: string;
  spiffe: string;
  labels: Record<string, string>;
  sidecar: boolean;
  gateway: boolean;
  /** The services it backs, with the ports. */
  services: { host: string; port: number; protocol: string }[];
  scope: { sidecar?: string; why: string; outbound: { mode: string; from: string }; ingressPorts: number[] };
  mtls: { port: number; mode: string; from: string[] }[];
  /** The AuthorizationPolicies that apply, in evaluation order, each with its spec as written. */
  authorization: { policy: string; action: string; provider?: string; dryRun: boolean; spec: unknown }[];
  requestAuthentication: { policy: string; rule: string; issuer: string }[];
  /** Every service port in the registry, and whether this workload may reach it (and why). */
  egress: { host: string; port: number; source: string; external: boolean; visible: boolean; why: string }[];
}

const specOf = (r: Resource) => (manifestOf(r) as { spec?: unknown }).spec ?? {};

export function workloadView(snapshot: Snapshot, id: string): WorkloadView | undefined {
  const index = PolicyIndex.of(snapshot);
  const reg = index.registry;
  const w = reg.workload(id) ?? reg.instancesOf(id)[0];
  if (!w) return undefined;
  const choice = sidecarFor(index, w);
  const ports = reg.workloadPorts(w);
  const set = index.authzFor(w);
  const policies = [...set.custom, ...set.deny, ...set.allow, ...set.shadow];
  return {
    id: w.id, owner: w.owner, namespace: w.namespace, serviceAccount: w.serviceAccount, spiffe: w.spiffe, labels: w.labels, sidecar: w.sidecar, gateway: w.gateway,
    services: reg.servicesOf(w).map(({ service, port }) => ({ host: service.hostname, port: port.port, protocol: port.protocol })),
    scope: {
      sidecar: choice.sidecar ? sidecarName(choice.sidecar) : undefined,
      why: choice.why,
      outbound: outboundMode(index, choice),
      ingressPorts: choice.sidecar?.ingress.map((i) => i.port.number) ?? [],
    },
    mtls: ports.map((port) => {
      const m = effectiveMtls(index, w, port);
      return { port, mode: m.mode, from: m.from };
    }),
    authorization: policies.map((c) => ({ policy: c.name, action: c.policy.action, provider: c.policy.provider, dryRun: c.policy.dryRun, spec: specOf(c.policy) })),
    requestAuthentication: index.jwtRulesFor(w).map((r) => ({ policy: r.policy, rule: r.at, issuer: r.rule.issuer })),
    egress: reg.services.flatMap((s) => s.ports.map((p) => {
      const v = inEgressScope(index, w, s, p.port);
      return { host: s.hostname, port: p.port, source: s.source, external: s.external, visible: v.visible, why: v.explanation };
    })),
  };
}
