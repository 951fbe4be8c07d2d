// The admin credential's table: where it lives, how it is made and read, and which signed requests verify.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHmac } from "node:crypto";
import { ZmError } from "../api/errors.js";
import { ADMIN_TOKEN_FILE, AdminChallenges, CHALLENGE_TTL_MS, adminTokenPath, openOrCreateAdminToken, readAdminToken, signAdminRequest } from "./admin-credential.js";

const tmp = () => mkdtempSync(join(tmpdir(), "zm-admin-"));
const TOKEN = "a".repeat(64);
const OTHER = "b".repeat(64);
const authError = (re: RegExp) => (e: unknown) => e instanceof ZmError && e.code === "ZM_ADMIN_UNAUTHENTICATED" && re.test(e.message);

test("admin credential: the setting wins over the state directory's admin.token", () => {
  assert.equal(adminTokenPath({ stateDir: "/s", adminTokenFile: "" }), join("/s", ADMIN_TOKEN_FILE));
  assert.equal(adminTokenPath({ stateDir: "/s", adminTokenFile: "/elsewhere/t" }), "/elsewhere/t");
});

test("admin credential: made once, 0600 in a 0700 folder, kept across restarts, tightened when others could read it", () => {
  const dir = join(tmp(), "state");
  const file = join(dir, ADMIN_TOKEN_FILE);
  const token = openOrCreateAdminToken(file);
  assert.match(token, /^[0-9a-f]{64}$/);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(openOrCreateAdminToken(file), token);
  assert.notEqual(openOrCreateAdminToken(join(tmp(), ADMIN_TOKEN_FILE)), token);
  chmodSync(file, 0o644);
  assert.equal(openOrCreateAdminToken(file), token);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readAdminToken(file), token);
});

test("admin credential: a missing or malformed file is an error that names the file", () => {
  const dir = tmp();
  assert.throws(() => readAdminToken(join(dir, "none")), authError(/cannot read the admin credential .*none \(ENOENT\).*ZEROMESH_ADMIN_TOKEN_FILE/));
  for (const text of ["", "short", "A".repeat(64), "a".repeat(63), "a".repeat(65), `${"a".repeat(64)} x`]) {
    writeFileSync(join(dir, "t"), text);
    assert.throws(() => readAdminToken(join(dir, "t")), authError(/does not hold an admin credential/), JSON.stringify(text));
  }
  writeFileSync(join(dir, "t"), `  ${TOKEN}\n\n`);
  assert.equal(readAdminToken(join(dir, "t")), TOKEN, "surrounding whitespace is not part of it");
  assert.equal(readFileSync(join(dir, "t"), "utf8").trim(), TOKEN);
});

test("signed admin requests: one request per challenge, over its method, path and body, with this credential, within the TTL", () => {
  const server = new AdminChallenges(TOKEN);
  const t0 = 1_000_000;
  const sign = (method = "POST", path = "/v1/apply", body = "{}", token = TOKEN, now = t0) => signAdminRequest(token, server.issue(now), method, path, body);

  const ok = sign();
  assert.match(ok, /^ZM-HMAC c=[A-Za-z0-9_-]{32},m=[A-Za-z0-9_-]{43}$/);
  assert.equal(server.verify(ok, "POST", "/v1/apply", "{}", t0), undefined);
  assert.match(server.verify(ok, "POST", "/v1/apply", "{}", t0) ?? "", /not one this control plane has open/, "spent by its first use");

  const cases: [string, string | undefined, string, string, string, number][] = [
    ["another method", sign(), "DELETE", "/v1/apply", "{}", t0],
    ["another path", sign(), "POST", "/v1/delete", "{}", t0],
    ["another body", sign(), "POST", "/v1/apply", '{"x":1}', t0],
  ];
  for (const [what, header, method, path, body, now] of cases) assert.match(server.verify(header, method, path, body, now) ?? "", /does not verify/, what);

  // Another control plane's credential: the client can sign (it checks only a proof made with its own), the server refuses.
  const offered = server.issue(t0);
  const otherProof = createHmac("sha256", OTHER).update(`server\n${offered.challenge}`).digest("base64url");
  assert.match(server.verify(signAdminRequest(OTHER, { challenge: offered.challenge, proof: otherProof }, "GET", "/v1/status", ""), "GET", "/v1/status", "", t0) ?? "", /does not verify/);

  // Good for CHALLENGE_TTL_MS to the millisecond.
  const onTime = server.issue(t0);
  assert.equal(server.verify(signAdminRequest(TOKEN, onTime, "GET", "/", ""), "GET", "/", "", t0 + CHALLENGE_TTL_MS), undefined);
  const late = server.issue(t0);
  assert.match(server.verify(signAdminRequest(TOKEN, late, "GET", "/", ""), "GET", "/", "", t0 + CHALLENGE_TTL_MS + 1) ?? "", /not one this control plane has open/);
  // A challenge this server never issued (another instance's), signed correctly.
  const foreign = new AdminChallenges(TOKEN).issue(t0);
  assert.match(server.verify(signAdminRequest(TOKEN, foreign, "GET", "/", ""), "GET", "/", "", t0) ?? "", /not one this control plane has open/);

  for (const header of [undefined, "", "Bearer " + TOKEN, ok.replace("ZM-HMAC", "zm-hmac"), ok + " ", ok.replace(",m=", ", m=")]) {
    assert.match(server.verify(header, "POST", "/v1/apply", "{}", t0) ?? "", /needs a request signed/, JSON.stringify(header));
  }
});

test("signed admin requests: a flood of challenges keeps at most 10,000 open, dropping the oldest", () => {
  const server = new AdminChallenges(TOKEN);
  const first = server.issue(0);
  const second = server.issue(0);
  for (let i = 0; i < 9_998; i++) server.issue(0);
  const newest = server.issue(0); // the 10,001st: the first is dropped to make room
  assert.match(server.verify(signAdminRequest(TOKEN, first, "GET", "/", ""), "GET", "/", "", 0) ?? "", /not one this control plane has open/);
  assert.equal(server.verify(signAdminRequest(TOKEN, second, "GET", "/", ""), "GET", "/", "", 0), undefined);
  assert.equal(server.verify(signAdminRequest(TOKEN, newest, "GET", "/", ""), "GET", "/", "", 0), undefined);
});

test("signed admin requests: a client signs nothing for an endpoint that cannot prove it holds the credential", () => {
  const offered = new AdminChallenges(TOKEN).issue();
  const notProven = /could not prove it holds this mesh's admin credential/;
  for (const bad of [
    { challenge: offered.challenge, proof: new AdminChallenges(OTHER).issue().proof },
    { challenge: offered.challenge, proof: createHmac("sha256", OTHER).update(`server\n${offered.challenge}`).digest("base64url") },
    { challenge: offered.challenge },
    { proof: offered.proof },
    { challenge: 42, proof: offered.proof },
    { challenge: offered.challenge + "x", proof: offered.proof },
    { challenge: offered.challenge.slice(1), proof: offered.proof },
    { challenge: offered.challenge, proof: offered.proof.slice(1) },
  ]) assert.throws(() => signAdminRequest(TOKEN, bad, "GET", "/", ""), authError(notProven), JSON.stringify(bad));
  assert.match(signAdminRequest(TOKEN, offered, "GET", "/", ""), /^ZM-HMAC c=/);
});
