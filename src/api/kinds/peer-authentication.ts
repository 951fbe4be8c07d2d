import type { Reader } from "../reader.js";
import type { MtlsMode, Origin, PeerAuthentication } from "../types.js";
import { readMeta, readSelector } from "./meta.js";

const MODES: readonly MtlsMode[] = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"];

export function readPeerAuthentication(doc: Reader, origin: Origin): PeerAuthentication {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["selector", "mtls", "portLevelMtls"]);
  const sel = spec.field("selector").object(["matchLabels"]);
  const selector = sel.present ? readSelector(sel.field("matchLabels")) ?? {} : undefined;
  const mode = spec.field("mtls").object(["mode"]).field("mode").enumOf(MODES, "UNSET")!;
  const portLevel: Record<number, MtlsMode> = {};
  const pl = spec.field("portLevelMtls").object();
  if (pl.present && !selector) pl.error("portLevelMtls requires a workload selector");
  else if (pl.present && !pl.keys().length) pl.error("must set at least one port when present (the CRD's minProperties)");
  for (const k of pl.keys()) {
    const at = pl.field(k);
    if (!/^\d+$/.test(k) || Number(k) < 1 || Number(k) > 65535) {
      at.error(`"${k}" is not a port number`);
      continue;
    }
    portLevel[Number(k)] = at.object(["mode"]).field("mode").enumOf(MODES, "UNSET")!;
  }
  return { kind: "PeerAuthentication", meta, origin, selector, mode, portLevel };
}
