import assert from "node:assert/strict";
import { test } from "node:test";
import { countsOf, graphOf, keep } from "./graph.js";

const series = (labels: Record<string, string>, value: number, name = "istio_requests_total") =>
  `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}} ${value}`;
const edge = { reporter: "source", source_workload: "client", source_workload_namespace: "a", destination_workload: "web", destination_workload_namespace: "b", destination_principal: "spiffe://cluster.local/ns/b/sa/web", destination_service: "web.b.svc.cluster.local", request_protocol: "http" };

test("graph: edges from the client side's series, summed over codes and proxies; 5xx and no answer are errors", () => {
  const text = [
    "# TYPE istio_requests_total counter",
    series({ ...edge, response_code: "200" }, 7),
    series({ ...edge, response_code: "503" }, 2),
    series({ ...edge, response_code: "0" }, 1),
    series({ ...edge, response_code: "403" }, 4),
    // The server's own report of the same requests is not counted again.
    series({ ...edge, reporter: "destination", response_code: "200" }, 7),
    series({ ...edge, destination_workload: "unknown", destination_workload_namespace: "unknown", destination_principal: "unknown", destination_service: "BlackHoleCluster", response_code: "502" }, 3),
    "# TYPE istio_tcp_connections_opened_total counter",
    series({ ...edge, request_protocol: "tcp" }, 5, "istio_tcp_connections_opened_total"),
  ].join("\n");
  const counts = [...countsOf([text, "not prometheus {{{"]).values()];
  assert.deepEqual(counts.map((c) => [c.source, c.target, c.protocol, c.total, c.errors, c.mtls]), [
    ["a/client", "b/web", "http", 14, 3, true],
    ["a/client", "BlackHoleCluster", "http", 3, 3, false],
    ["a/client", "b/web", "tcp", 5, 0, true],
  ]);
});

test("graph: rates over the window between the oldest and newest sample; a restarted proxy's counter starts again", () => {
  const at = (total: number) => countsOf([`# TYPE istio_requests_total counter\n${series({ ...edge, response_code: "200" }, total)}`]);
  const one = graphOf([{ id: "a/client", kind: "workload", namespace: "a" }], [{ at: 0, counts: at(10) }]);
  assert.deepEqual(one.edges.map((e) => [e.total, e.rate, e.errorRate]), [[10, null, null]], "one sample: no rate yet");
  assert.deepEqual(one.nodes.map((n) => `${n.kind} ${n.id}`), ["workload a/client", "workload b/web"], "the far end joins the nodes");
  const two = graphOf([], [{ at: 0, counts: at(10) }, { at: 5000, counts: at(30) }]);
  assert.deepEqual(two.edges.map((e) => [e.rate, e.errorRate]), [[4, 0]]);
  assert.equal(two.windowSeconds, 5);
  const restarted = graphOf([], [{ at: 0, counts: at(30) }, { at: 2000, counts: at(6) }]);
  assert.equal(restarted.edges[0]!.rate, 3);
  const kept = keep([{ at: 0, counts: at(1) }, { at: 30_000, counts: at(2) }, { at: 70_000, counts: at(3) }], 70_000);
  assert.deepEqual(kept.map((s) => s.at), [30_000, 70_000]);
  assert.deepEqual(keep([{ at: 0, counts: at(1) }, { at: 1000, counts: at(2) }], 500_000).map((s) => s.at), [0, 1000], "always the two newest");
});
