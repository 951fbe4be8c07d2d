import { text } from "node:stream/consumers";
import { startApp, type AppMode, type RunningApp } from "../app/server.js";
import { parse } from "./args.js";
import { untilStopped } from "./signals.js";
import type { Io } from "./io.js";

const USAGE = "zeromesh app --name NAME --namespace NS [--host 127.0.0.1] [--port 0] [--serve http|tcp-echo] | zeromesh app --spec - (JSON on stdin)";

/** Several ports of one stand-in, as `--spec -` reads it (the scenario runner's apps in a pod; keys never on a command line). */
export interface AppSpec {
  workload: string;
  namespace: string;
  host: string;
  ports: { port: number; mode: AppMode; body?: string }[];
}

/** The stand-in application as a process of its own (benchmarks, demos, a scenario's workload in a pod). */
export async function appCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { name: { type: "string" }, namespace: { type: "string" }, host: { type: "string" }, port: { type: "string" }, serve: { type: "string" }, spec: { type: "string" } }, USAGE);
  let apps: RunningApp[];
  if (values.spec === "-") {
    const spec = JSON.parse(await text(process.stdin)) as AppSpec;
    apps = await Promise.all(spec.ports.map((p) => startApp({ workload: spec.workload, namespace: spec.namespace, body: p.body }, p.mode, spec.host, p.port)));
  } else {
    if (!values.name || !values.namespace || values.spec !== undefined) return io.usage(USAGE);
    apps = [await startApp({ workload: values.name, namespace: values.namespace }, values.serve === "tcp-echo" ? { serve: "tcp-echo" } : { serve: "http" }, values.host ?? "127.0.0.1", Number(values.port ?? 0))];
  }
  io.out(JSON.stringify({ type: "ready", address: `${apps[0]?.host}:${apps[0]?.port}`, addresses: apps.map((a) => `${a.host}:${a.port}`) }));
  await untilStopped();
  await Promise.all(apps.map((a) => a.close()));
  return 0;
}
