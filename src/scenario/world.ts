import { standInBehaviour, type ServerBehaviour, type World } from "../policy/world.js";
import type { Scenario } from "./model.js";
import { isTlsPort, type TestPki } from "./pki.js";

/** The world a scenario declares: stand-in apps (with `apps` overrides) and its external hosts. */
export function scenarioWorld(s: Scenario, pki: TestPki, now: Date): World {
  const apps = new Map(s.apps.map((a) => [`${a.workload}:${a.port}`, a]));
  return {
    now,
    app(w, port, protocol): ServerBehaviour {
      const a = apps.get(`${w.owner}:${port}`);
      if (!a) return standInBehaviour(protocol);
      if (a.serve === "https") return { serve: "https", chain: pki.chainOf(a.certificate!), body: a.body };
      if (a.serve === "tcp-echo" || a.serve === "ext-authz" || a.serve === "ext-authz-grpc") return { serve: a.serve };
      return { serve: "http", body: a.body };
    },
    external(host, port) {
      const e = s.externals.find((x) => x.host === host);
      if (!e || !e.ports.includes(port)) return undefined;
      if (isTlsPort(port)) return { serve: "https", chain: [pki.externals.get(host)!.cert], files: e.files };
      return { serve: "http", files: e.files };
    },
  };
}
