// DestinationRules: TLS origination that does not verify the server, and subsets that select no pod.
import type { Analyzer } from "../context.js";
import type { AnalysisObject } from "../objects.js";
import { arr, destinationHost, selects, serviceHostMap, str, strMap } from "../util.js";

const ORIGINATES = new Set(["SIMPLE", "MUTUAL"]);

export const caCertificate: Analyzer = {
  name: "destinationrule.CaCertificateAnalyzer",
  description: "TLS origination (SIMPLE or MUTUAL) without caCertificates does not verify the server's certificate",
  analyze(ctx) {
    for (const dr of ctx.objects.of("DestinationRule")) {
      const selected = dr.spec.workloadSelector !== undefined && dr.spec.workloadSelector !== null;
      // A credentialName on a rule that selects its workloads brings the CA with it.
      const unverified = (tls: any) => tls && ORIGINATES.has(tls.mode) && !tls.caCertificates && !(tls.credentialName && selected);
      const policy = dr.spec.trafficPolicy ?? {};
      const fullName = `${dr.namespace}/${dr.name}`;
      if (unverified(policy.tls)) ctx.report("NoServerCertificateVerificationDestinationLevel", dr, fullName, dr.namespace, policy.tls.mode, dr.spec.host);
      for (const p of Array.isArray(policy.portLevelSettings) ? policy.portLevelSettings : []) {
        if (unverified(p?.tls)) ctx.report("NoServerCertificateVerificationPortLevel", dr, fullName, dr.namespace, p.tls.mode, dr.spec.host, `number:${p.port?.number ?? 0}`);
      }
    }
  },
};

// A rule for a host no service has does nothing; a subset whose labels (with the service's workload selector) match no pod sends its traffic nowhere (503 UH).
export const subsetSelectPod: Analyzer = {
  name: "destinationrule.SubsetSelectPodAnalyzer",
  description: "The rule's host must be a known service; each subset's labels must select at least one pod (pod labels plus node topology).",
  analyze(ctx) {
    const services = serviceHostMap(ctx);
    const nodes = new Map(ctx.objects.of("Node").map((n) => [n.name, n.labels]));
    const subsets: { dr: AnalysisObject; subsets: Map<string, { selector: Record<string, string>; matched: boolean }> }[] = [];
    for (const dr of ctx.objects.of("DestinationRule")) {
      const se = destinationHost(dr.namespace, arr(dr.spec.exportTo).map(str), str(dr.spec.host), services);
      if (!se) {
        ctx.report("UnknownDestinationRuleHost", dr, str(dr.spec.host));
        continue;
      }
      if (arr(dr.spec.subsets).length === 0) continue;
      const m = new Map<string, { selector: Record<string, string>; matched: boolean }>();
      for (const ss of arr(dr.spec.subsets)) m.set(str(ss?.name), { selector: { ...(se.workloadSelector ?? {}), ...strMap(ss?.labels) }, matched: false });
      subsets.push({ dr, subsets: m });
    }
    for (const pod of ctx.objects.of("Pod")) {
      // Pods carry their node's topology (region/zone/subzone, as a locality) and hostname, as Istio's endpoints do.
      const nodeName = str(pod.spec.nodeName);
      const node = nodes.get(nodeName);
      const labels = { ...pod.labels };
      if (node) {
        const [region, zone, subzone] = [node["topology.kubernetes.io/region"] ?? "", node["topology.kubernetes.io/zone"] ?? "", node["topology.istio.io/subzone"] ?? ""];
        const locality = zone === "" ? region : subzone === "" ? `${region}/${zone}` : `${region}/${zone}/${subzone}`;
        const parts = locality.split("/");
        if (parts[0]) labels["topology.kubernetes.io/region"] = parts[0];
        if (parts[1]) labels["topology.kubernetes.io/zone"] = parts[1];
        if (parts[2]) labels["topology.istio.io/subzone"] = parts[2];
      }
      if (nodeName) labels["kubernetes.io/hostname"] = nodeName;
      for (const { subsets: m } of subsets) for (const s of m.values()) if (!s.matched && selects(s.selector, labels)) s.matched = true;
    }
    for (const { dr, subsets: m } of subsets) for (const [name, s] of m) if (!s.matched) ctx.report("DestinationRuleSubsetNotSelectPods", dr, name);
  },
};
