// zeromesh dashboard: the web UI over the running control plane, on loopback.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Codes, ZmError } from "../api/errors.js";
import { Dashboard } from "../dashboard/server.js";
import { adminCall, adminClient } from "./admin.js";
import { parse } from "./args.js";
import type { Io } from "./io.js";
import { untilStopped } from "./signals.js";

/** Kiali's port, which users of Istio already know. */
export const DASHBOARD_PORT = 20001;
/** The bundle `npm run build` makes (scripts/build-dashboard.mjs). */
export const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "dashboard", "ui");

export async function dashboardCommand(argv: string[], io: Io): Promise<number> {
  const usage = `zeromesh dashboard [--port ${DASHBOARD_PORT}] [--admin HOST:PORT]`;
  const { values, positionals } = parse(argv, { port: { type: "string" as const }, admin: { type: "string" as const } }, usage);
  if (positionals.length) return io.usage(usage);
  const port = values.port === undefined ? DASHBOARD_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return io.usage(`--port must be a port number\n${usage}`);
  const admin = adminClient(values.admin);
  // Fails now, with the CLI's words, when there is no control plane or no credential.
  await adminCall(admin, "GET", "/v1/proxy-status");
  const dashboard = new Dashboard({ admin, uiDir: UI_DIR, port });
  await dashboard.start().catch((e: NodeJS.ErrnoException) => {
    throw new ZmError(Codes.IO, `cannot listen on 127.0.0.1:${port} (${e.code ?? e.message}); another dashboard? Use --port`);
  });
  io.out(`zeromesh dashboard: ${dashboard.url}`);
  io.out("  open it in a browser on this machine (the token in it is this session's); Ctrl-C stops the dashboard");
  await untilStopped();
  await dashboard.stop();
  return 0;
}
