// EnvoyFilters: patch operations that are ignored, or whose effect depends on the order filters are applied in.
import type { Analyzer } from "../context.js";
import { arr, num, rec, str } from "../util.js";

const ROUTE_LEVEL = new Set(["ROUTE_CONFIGURATION", "HTTP_ROUTE"]);
const REPLACEABLE = new Set(["NETWORK_FILTER", "HTTP_FILTER", "VIRTUAL_HOST"]);

// ADD/REMOVE do nothing on route configuration, REPLACE only works on filters and virtual hosts, and relative
// operations (INSERT_BEFORE/AFTER, REPLACE, REMOVE) without a priority may apply before their anchor exists —
// worse across an upgrade when an earlier patch on the same name is pinned to a proxy version.
export const envoyPatch: Analyzer = {
  name: "envoyfilter.EnvoyPatchAnalyzer",
  description: "Relative patch operations without a priority, and ADD/REMOVE/REPLACE used on applyTo targets they do not support.",
  analyze(ctx) {
    const versioned: string[] = []; // names patched by earlier patches that match on a proxy version
    for (const ef of ctx.objects.of("EnvoyFilter")) {
      const priority = num(ef.spec.priority);
      for (const patch of arr(ef.spec.configPatches)) {
        if (patch?.patch === undefined || patch?.patch === null) break;
        const value = patch.patch.value;
        const match = rec(patch.match);
        // What the patch is about: the value's name, else the filter its listener match names (Istio compares these as it prints them).
        let name = "";
        if (typeof value === "object" && value !== null) {
          if ("name" in value && value.name !== null) name = `value:${JSON.stringify(value.name)}`;
          else name = str(rec(rec(rec(match.listener).filterChain).filter).name);
        }
        const relative = () => {
          if (priority !== 0) return;
          ctx.report(versioned.includes(name) ? "EnvoyFilterUsesRelativeOperationWithProxyVersion" : "EnvoyFilterUsesRelativeOperation", ef);
        };
        const op = str(patch.patch.operation);
        const applyTo = str(patch.applyTo);
        if (op === "ADD") {
          if (ROUTE_LEVEL.has(applyTo)) ctx.report("EnvoyFilterUsesAddOperationIncorrectly", ef);
        } else if (op === "REMOVE") {
          if (ROUTE_LEVEL.has(applyTo)) ctx.report("EnvoyFilterUsesRemoveOperationIncorrectly", ef);
          else relative();
        } else if (op === "REPLACE") {
          if (!REPLACEABLE.has(applyTo)) ctx.report("EnvoyFilterUsesReplaceOperationIncorrectly", ef);
          else relative();
        } else if (op === "INSERT_BEFORE" || op === "INSERT_AFTER") relative();
        if (str(rec(match.proxy).proxyVersion) !== "") versioned.push(name);
      }
    }
  },
};
