import { test } from "node:test";
import assert from "node:assert/strict";
import { DURATION_BUCKETS_MS, ProxyMetrics } from "./metrics.js";

const lines = (text: string, prefix: string) => text.split("\n").filter((l) => l.startsWith(prefix));

test("metrics: requests are counted per label set and code, durations fall in Istio's buckets (cumulative)", () => {
  const m = new ProxyMetrics();
  const a = 'reporter="source",destination_service="web.b.svc.cluster.local"';
  m.request("CLIENT", a, 200, 0.3);
  m.request("CLIENT", a, 200, 7);
  m.request("CLIENT", a, 200, 7000);
  m.request("CLIENT", a, 403, 1);
  const text = m.render();
  assert.deepEqual(lines(text, "istio_requests_total{"), [`istio_requests_total{${a},response_code="200"} 3`, `istio_requests_total{${a},response_code="403"} 1`]);
  const bucket = (code: number, le: string) => lines(text, `istio_request_duration_milliseconds_bucket{${a},response_code="${code}",le="${le}"}`)[0]?.split(" ").at(-1);
  assert.equal(bucket(200, "0.5"), "1");
  assert.equal(bucket(200, "5"), "1");
  assert.equal(bucket(200, "10"), "2");
  assert.equal(bucket(200, "5000"), "2");
  assert.equal(bucket(200, "10000"), "3");
  assert.equal(bucket(200, "+Inf"), "3");
  assert.equal(bucket(403, "1"), "1", "a duration equal to a bound is in that bucket (le)");
  assert.equal(bucket(403, "0.5"), "0");
  assert.equal(lines(text, `istio_request_duration_milliseconds_bucket{${a},response_code="200"`).length, DURATION_BUCKETS_MS.length + 1);
  assert.deepEqual(lines(text, `istio_request_duration_milliseconds_sum{${a},response_code="200"}`), [`istio_request_duration_milliseconds_sum{${a},response_code="200"} 7007.3`]);
  assert.deepEqual(lines(text, `istio_request_duration_milliseconds_count{${a},response_code="200"}`), [`istio_request_duration_milliseconds_count{${a},response_code="200"} 3`]);
});

test("metrics: TCP connections opened and closed, and every family is typed even when empty", () => {
  const m = new ProxyMetrics();
  assert.deepEqual(lines(m.render(), "# TYPE"), [
    "# TYPE istio_requests_total counter",
    "# TYPE istio_request_duration_milliseconds histogram",
    "# TYPE istio_tcp_connections_opened_total counter",
    "# TYPE istio_tcp_connections_closed_total counter",
  ]);
  const t = 'reporter="destination",request_protocol="tcp"';
  m.tcpOpened("SERVER", t);
  m.tcpOpened("SERVER", t);
  m.tcpClosed("SERVER", t);
  const text = m.render();
  assert.deepEqual(lines(text, "istio_tcp_connections_"), [`istio_tcp_connections_opened_total{${t}} 2`, `istio_tcp_connections_closed_total{${t}} 1`]);
});
