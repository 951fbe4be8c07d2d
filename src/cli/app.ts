import { startApp } from "../app/server.js";
import { parse } from "./args.js";
import { untilStopped } from "./signals.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh app --name NAME --namespace NS [--host 127.0.0.1] [--port 0] [--serve http|tcp-echo]";

/** The stand-in application as a process of its own (benchmarks, demos). */
export async function appCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { name: { type: "string" }, namespace: { type: "string" }, host: { type: "string" }, port: { type: "string" }, serve: { type: "string" } }, USAGE);
  if (!values.name || !values.namespace) return io.usage(USAGE);
  const app = await startApp({ workload: values.name, namespace: values.namespace }, values.serve === "tcp-echo" ? { serve: "tcp-echo" } : { serve: "http" }, values.host ?? "127.0.0.1", Number(values.port ?? 0));
  io.out(JSON.stringify({ type: "ready", address: `${app.host}:${app.port}` }));
  await untilStopped();
  await app.close();
  return 0;
}
