// Whether this machine can run pods, and why not when it cannot: root (network namespaces, veth, iptables),
// the tools the node agent runs, and the SO_ORIGINAL_DST addon.
import { execFileSync } from "node:child_process";
import { originalDstUnavailable } from "../net/original-dst.js";

export function podsUnavailable(): string | undefined {
  if (process.platform !== "linux") return "pods need Linux";
  if (process.getuid?.() !== 0) return "pods need root (network namespaces, veth, iptables)";
  for (const tool of ["ip", "iptables-restore", "setpriv"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `pods need ${tool} (Debian: apt-get install -y iproute2 iptables util-linux)`;
    }
  }
  return originalDstUnavailable();
}
