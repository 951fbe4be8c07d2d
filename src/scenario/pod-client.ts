// The probe client inside a pod: `kubectl exec WORKLOAD -- curl URL`. Reads {request, route} as JSON on stdin,
// sends it with the scenario client (its own network namespace, DNS and capture apply), prints the outcome as JSON.
import { text } from "node:stream/consumers";
import { send, type ClientRequest, type Route } from "./client.js";

const { request, route } = JSON.parse(await text(process.stdin)) as { request: ClientRequest; route: Route };
process.stdout.write(JSON.stringify(await send(request, route)) + "\n");
