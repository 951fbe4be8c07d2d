// Where a captured connection was going: the address and port an iptables REDIRECT replaced, read with
// getsockopt(SO_ORIGINAL_DST) through the one native addon (native/original_dst.c, built by `npm install`).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { isIPv6, type Socket } from "node:net";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";

const ADDON = join(PROJECT_ROOT, "native", "build", "Release", "original_dst.node");

type Addon = { originalDst(fd: number, family: 4 | 6): { address: string; port: number } };
let addon: Addon | undefined;

/** Whether pods can run here: the addon is built (a reason when not). */
export function originalDstUnavailable(): string | undefined {
  if (process.platform !== "linux") return "pods need Linux (network namespaces, iptables, SO_ORIGINAL_DST)";
  if (!existsSync(ADDON)) return `the SO_ORIGINAL_DST addon is not built (${ADDON}); run \`npm install\` (it needs python3, make and a C compiler)`;
  return undefined;
}

function load(): Addon {
  if (!addon) {
    const why = originalDstUnavailable();
    if (why) throw new Error(why);
    addon = createRequire(import.meta.url)(ADDON) as Addon;
  }
  return addon;
}

/**
 * The original destination of an accepted TCP connection, or undefined when NAT did not redirect it (a connection
 * made straight to the listener: its original destination is the listener itself).
 */
export function originalDestination(socket: Socket): { host: string; port: number } | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) return undefined;
  try {
    const o = load().originalDst(fd, isIPv6(socket.localAddress ?? "") && !socket.localAddress!.startsWith("::ffff:") ? 6 : 4);
    if (o.address === socket.localAddress?.replace(/^::ffff:/, "") && o.port === socket.localPort) return undefined;
    return { host: o.address, port: o.port };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}
