// The stream idle timeout against a real HTTP server and raw clients: a
// stalled upload is ended, one that keeps moving is not, and a connection
// idle between requests is left to the keep-alive timeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { endStalledRequests } from "./stalled-requests.js";
import { listen, rawClient, within, type RawClient } from "../testing/net.js";

const IDLE_MS = 200;

/**
 * A server that answers once the whole body has come (keep-alive far longer than the stream idle limit), and a raw
 * client that sends it `bytes`; both closed after `f`.
 */
async function withClient(bytes: string, f: (c: RawClient) => Promise<void>): Promise<void> {
  const s = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
    req.resume();
    // /big: more than any socket buffer holds, for a client that does not read.
    req.on("end", () => res.end(req.url === "/big" ? Buffer.alloc(32 << 20) : "done"));
  });
  endStalledRequests(s, IDLE_MS);
  const c = rawClient("127.0.0.1", await listen(s), bytes);
  try {
    await f(c);
  } finally {
    c.socket.destroy();
    s.closeAllConnections();
    s.close();
  }
}

test("stalled requests: an upload that stops coming is ended", () =>
  withClient("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc", async (c) => {
    assert.notEqual(await within(c.ended, 20 * IDLE_MS, "open"), "open", "the stalled upload was ended");
  }));

test("stalled requests: an upload that keeps moving is not ended, however long it takes in all", () =>
  withClient("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 8\r\n\r\n", async (c) => {
    // A byte every half limit: eight of them take four limits in all.
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, IDLE_MS / 2));
      assert.equal(c.socket.destroyed, false, `still open after ${i} bytes`);
      c.socket.write("x");
    }
    await new Promise((r) => setTimeout(r, IDLE_MS / 2));
    assert.match(c.received(), /^HTTP\/1\.1 200 [\s\S]*done$/);
  }));

test("stalled requests: a connection idle between requests is the keep-alive timeout's, not the stream idle limit's", () =>
  withClient("GET / HTTP/1.1\r\nhost: x\r\n\r\n", async (c) => {
    assert.equal(await within(c.ended, 10 * IDLE_MS, "open"), "open", "kept alive past the stream idle limit");
    assert.match(c.received(), /^HTTP\/1\.1 200 [\s\S]*done$/);
  }));

test("stalled requests: a client that stops reading its answer does not hold the connection", () =>
  withClient("GET /big HTTP/1.1\r\nhost: x\r\n\r\n", async (c) => {
    // A paused client sees no end either: it reads again once the limit has long passed. An answer left to finish
    // would leave a kept-alive connection; a connection that was ended closes after the bytes already sent.
    c.socket.pause();
    await new Promise((r) => setTimeout(r, 10 * IDLE_MS));
    c.socket.resume();
    assert.notEqual(await within(c.ended, 40 * IDLE_MS, "open"), "open", "the unread answer's connection was ended");
    assert.ok(c.received().length < (32 << 20), "the answer was cut short");
  }));
