// ServiceEntries: TCP entries without addresses, and entries that disagree on a host and port's protocol.
import type { Analyzer } from "../context.js";
import type { AnalysisObject } from "../objects.js";
import { arr, fullName, num, rec, str } from "../util.js";

// Without an address (given, allocated, or auto-allocated by DNS capture) a TCP ServiceEntry cannot be told apart from others on its port.
export const protocolAddresses: Analyzer = {
  name: "serviceentry.Analyzer",
  description: "TCP/unspecified-protocol ServiceEntries need addresses unless DNS auto-allocation is on or addresses were allocated.",
  analyze(ctx) {
    const meta = rec(rec(ctx.mesh.raw.defaultConfig).proxyMetadata);
    const autoAllocated = meta.ISTIO_META_DNS_CAPTURE === "true" && (meta.ISTIO_META_DNS_AUTO_ALLOCATE === "true" || meta.PILOT_ENABLE_IP_AUTOALLOCATE === "true");
    if (autoAllocated) return;
    for (const se of ctx.objects.of("ServiceEntry")) {
      if (arr(se.spec.addresses).length > 0 || arr(rec(se.raw.status).addresses).length > 0) continue;
      for (const p of arr(se.spec.ports)) {
        const protocol = str(p?.protocol);
        if (protocol === "" || protocol.toUpperCase() === "TCP") ctx.report("ServiceEntryAddressesRequired", se);
      }
    }
  },
};

// ServiceEntries visible together that give one host and port different protocols leave the port's protocol undefined.
export const conflictingProtocol: Analyzer = {
  name: "serviceentry.ConflictingServiceEntryProtocolAnalyzer",
  description: "ServiceEntries sharing a host and port must agree on the protocol.",
  analyze(ctx) {
    const index = new Map<string, { scope: string; host: string; port: number; entries: { protocol: string; se: AnalysisObject }[] }>();
    for (const se of ctx.objects.of("ServiceEntry")) {
      const exportTo = arr(se.spec.exportTo).map(str);
      const scopes = exportTo.length === 0 || exportTo.includes("*") ? ["*"] : [...new Set(exportTo.map((e) => (e === "." ? se.namespace : e)))];
      for (const scope of scopes) {
        for (const host of arr(se.spec.hosts).map(str)) {
          for (const p of arr(se.spec.ports)) {
            const port = num(p?.number);
            const key = JSON.stringify([scope, host, port]);
            const e = index.get(key) ?? { scope, host, port, entries: [] };
            e.entries.push({ protocol: str(p?.protocol), se });
            index.set(key, e);
          }
        }
      }
    }
    const reported = new Set<string>();
    for (const { scope, host, port, entries: own } of index.values()) {
      const entries = scope === "*" ? own : [...own, ...(index.get(JSON.stringify(["*", host, port]))?.entries ?? [])];
      const protocols = [...new Set(entries.map((e) => e.protocol.toUpperCase()))].sort();
      if (protocols.length < 2) continue;
      const names = [...new Set(entries.map((e) => fullName(e.se)))].sort().join(", ");
      for (const { se } of entries) {
        if (reported.has(fullName(se))) continue;
        reported.add(fullName(se));
        ctx.report("ConflictingServiceEntryProtocol", se, names, host, port, protocols.join(", "));
      }
    }
  },
};
