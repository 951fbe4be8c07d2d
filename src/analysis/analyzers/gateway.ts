// Istio Gateways: the workloads they select, the ports those workloads' Services expose, servers that
// collide on one workload, and the TLS credentials they name.
import { X509Certificate } from "node:crypto";
import type { Analyzer } from "../context.js";
import type { AnalysisObject } from "../objects.js";
import { arr, fullName, intValue, num, rec, selects, selectorString, shortOrFullName, str, strMap } from "../util.js";

const selectorOf = (gw: AnalysisObject) => strMap(gw.spec.selector);

// A Gateway whose selector matches no pod configures nothing; a server port its workload's Services do not expose is unreachable through them.
export const ingressGatewayPort: Analyzer = {
  name: "gateway.IngressGatewayPortAnalyzer",
  description: "A Gateway's selector must match a pod, and each server port must be exposed by that pod's Service.",
  analyze(ctx) {
    for (const gw of ctx.objects.of("Gateway")) {
      const selector = selectorOf(gw);
      const targetPorts = new Set<number>();
      const servicePorts = new Set<number>();
      let matches = 0;
      for (const pod of ctx.objects.of("Pod")) {
        if (!selects(selector, pod.labels)) continue;
        matches++;
        for (const svc of ctx.objects.of("Service")) {
          if (svc.namespace !== pod.namespace || !selects(strMap(svc.spec.selector), pod.labels)) continue;
          for (const p of arr(svc.spec.ports)) {
            // Kubernetes fills in TCP when a port names no protocol.
            if ((p?.protocol ?? "TCP") !== "TCP") continue;
            // A gateway server listens on the pod's port: the Service's targetPort, or its port when none is given.
            const tp = intValue(p.targetPort);
            if (tp !== 0) {
              targetPorts.add(tp);
              servicePorts.add(num(p.port));
            } else targetPorts.add(num(p.port));
          }
        }
      }
      if (matches === 0) {
        ctx.report("ReferencedResourceNotFound", gw, "selector", selectorString(selector));
        continue;
      }
      for (const server of arr(gw.spec.servers)) {
        if (!server?.port) continue;
        const n = num(server.port.number);
        if (!targetPorts.has(n) && !servicePorts.has(n)) ctx.report("GatewayPortNotDefinedOnService", gw, n, selectorString(selector));
      }
    }
  },
};

// Two Gateways on the same workloads that claim one port with a shared host (and bind) make Envoy's listener ambiguous.
export const conflictingGateway: Analyzer = {
  name: "gateway.ConflictingGatewayAnalyzer",
  description: "Gateways selecting the same workload must not claim the same port with overlapping hosts.",
  analyze(ctx) {
    const gateways = ctx.objects.of("Gateway");
    // selector string → port → gateway full name → host → bind
    const index = new Map<string, Map<string, Map<string, Map<string, string>>>>();
    for (const gw of gateways) {
      const sel = selectorString(selectorOf(gw));
      for (const server of arr(gw.spec.servers)) {
        const port = String(num(rec(server?.port).number));
        const byPort = index.get(sel) ?? new Map();
        index.set(sel, byPort);
        const byName = byPort.get(port) ?? new Map();
        byPort.set(port, byName);
        byName.set(fullName(gw), new Map(arr(server?.hosts).map((h) => [str(h), str(server?.bind)])));
      }
    }
    const parse = (s: string) => Object.fromEntries(s.split(",").map((p) => p.split("=")).filter((kv) => kv.length === 2)) as Record<string, string>;
    for (const gw of gateways) {
      const selector = selectorOf(gw);
      const sel = selectorString(selector);
      // Selectors are the same workload when equal, or when one contains the other and some pod matches both.
      const same = [...index.keys()].filter((x) =>
        x === sel || ((x.includes(sel) || sel.includes(x)) && ctx.objects.of("Pod").some((p) => selects(selector, p.labels) && selects(parse(x), p.labels))));
      if (sel !== "" && same.length === 0) {
        ctx.report("ReferencedResourceNotFound", gw, "selector", sel);
        continue;
      }
      for (const server of arr(gw.spec.servers)) {
        const port = String(num(rec(server?.port).number));
        const hosts = arr(server?.hosts).map(str);
        const bind = str(server?.bind);
        const conflicts: string[] = [];
        for (const x of same) {
          for (const [name, known] of index.get(x)?.get(port) ?? []) {
            if (name !== fullName(gw) && hosts.some((h) => known.has(h) && known.get(h) === bind)) conflicts.push(name);
          }
        }
        if (conflicts.length) ctx.report("ConflictingGateways", gw, conflicts.sort().join(","), sel, port, hosts.join(","));
      }
    }
  },
};

/** Does a Secret hold a certificate and key ("cert"/"key" or "tls.crt"/"tls.key") whose first PEM block parses and is valid now? */
function usableCredential(secret: AnalysisObject): boolean {
  const data = strMap(secret.raw.data);
  const pair = data.cert && data.key ? data.cert : data["tls.crt"] && data["tls.key"] ? data["tls.crt"] : undefined;
  if (pair === undefined) return false;
  const pem = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(Buffer.from(pair, "base64").toString("latin1"));
  if (!pem) return false;
  try {
    const cert = new X509Certificate(Buffer.from(pem[1]!.replace(/\s+/g, ""), "base64"));
    const now = Date.now();
    return now >= Date.parse(cert.validFrom) && now <= Date.parse(cert.validTo);
  } catch {
    return false;
  }
}

// credentialName is looked up in the gateway workload's namespace; a missing Secret, or one without a usable cert/key, fails the TLS server.
export const secret: Analyzer = {
  name: "gateway.SecretAnalyzer",
  description: "credentialName must name a Secret in the gateway workload's namespace, holding a usable cert/key.",
  analyze(ctx) {
    for (const gw of ctx.objects.of("Gateway")) {
      const selector = selectorOf(gw);
      const pod = ctx.objects.of("Pod").find((p) => selects(selector, p.labels));
      const ns = pod?.namespace ?? "";
      if (ns === "") {
        ctx.report("ReferencedResourceNotFound", gw, "selector", selectorString(selector));
        continue;
      }
      for (const server of arr(gw.spec.servers)) {
        const cn = str(rec(server?.tls).credentialName);
        if (!cn) continue;
        const name = shortOrFullName(ns, cn);
        const s = ctx.objects.find("Secret", name.namespace, name.name);
        if (!s) ctx.report("ReferencedResourceNotFound", gw, "credentialName", cn);
        else if (!usableCredential(s)) ctx.report("InvalidGatewayCredential", gw, gw.name, ns);
      }
    }
  },
};

/** Do two servers' TLS settings name the same certificate (credentialName, or cert and key files)? */
function sameCertificate(a: Record<string, any>, b: Record<string, any>): boolean {
  const [ca, cb] = [str(a.credentialName), str(b.credentialName)];
  if (ca && cb) return ca === cb;
  if (ca || cb) return false;
  const [sa, sb, ka, kb] = [str(a.serverCertificate), str(b.serverCertificate), str(a.privateKey), str(b.privateKey)];
  return sa !== "" && sa === sb && ka !== "" && ka === kb;
}

// Gateways on the same workload serving the same certificate let HTTP/2 clients reuse a connection across them, which then 404s.
export const certificate: Analyzer = {
  name: "gateway.CertificateAnalyzer",
  description: "Two Gateways on the same workload must not reuse the same TLS certificate (scope flag PILOT_SCOPE_GATEWAY_TO_NAMESPACE).",
  analyze(ctx) {
    // PILOT_SCOPE_GATEWAY_TO_NAMESPACE is off by default: gateways in any namespace share workloads.
    const gateways = ctx.objects.of("Gateway");
    for (const gw of gateways) {
      const selector = selectorOf(gw);
      // Others whose selector agrees with every label of this one's (an empty selector takes all).
      const others = gateways.filter((o) => o !== gw && Object.entries(selector).every(([k, v]) => strMap(o.spec.selector)[k] === v));
      for (const other of others) {
        for (const s of arr(gw.spec.servers)) {
          for (const t of arr(other.spec.servers)) {
            if (s?.tls && t?.tls && sameCertificate(rec(s.tls), rec(t.tls))) ctx.report("GatewayDuplicateCertificate", gw, [fullName(gw), fullName(other)]);
          }
        }
      }
    }
  },
};
