import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect, createServer, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ZmError } from "../api/errors.js";
import { CertificateAuthority } from "./authority.js";
import { BootstrapAuthority } from "./bootstrap.js";
import { createCsr } from "./x509.js";

const WEB = "spiffe://cluster.local/ns/shop/sa/web";
const DB = "spiffe://cluster.local/ns/shop/sa/db";
const HOUR = 3_600_000;
const tmp = () => mkdtempSync(join(tmpdir(), "zm-ca-"));

async function issue(ca: CertificateAuthority, id: string) {
  const { csrPem, keyPem } = await createCsr(id);
  return { ...(await ca.sign(csrPem, id)), keyPem };
}

test("ca: creates a root once, persists it, and reuses it", async () => {
  const dir = tmp();
  const a = await CertificateAuthority.open({ stateDir: dir, workloadTtlMs: 24 * HOUR });
  const b = await CertificateAuthority.open({ stateDir: dir, workloadTtlMs: 24 * HOUR });
  assert.equal(a.rootPem, b.rootPem);
  assert.match(b.source, /self-signed root in/);
});

test("ca: signs a CSR for the proven identity, with the SPIFFE SAN and the configured lifetime", async () => {
  const t = new Date("2026-11-21T12:00:00Z");
  const ca = await CertificateAuthority.open({ stateDir: tmp(), workloadTtlMs: 2 * HOUR, now: () => t });
  const issued = await issue(ca, WEB);
  const cert = new X509Certificate(issued.certPem);
  assert.equal(cert.subjectAltName, `URI:${WEB}`);
  assert.ok(cert.verify(new X509Certificate(ca.rootPem).publicKey));
  assert.equal(new Date(cert.validTo).getTime(), t.getTime() + 2 * HOUR);
  assert.equal(issued.notAfter.getTime(), t.getTime() + 2 * HOUR);
  assert.equal(cert.ca, false);
});

test("ca: refuses a CSR for another identity, and garbage", async () => {
  const ca = await CertificateAuthority.open({ stateDir: tmp(), workloadTtlMs: HOUR });
  const { csrPem } = await createCsr(DB);
  await assert.rejects(ca.sign(csrPem, WEB), (e) => e instanceof ZmError && e.code === "ZM_CA_IDENTITY_MISMATCH" && /asks for spiffe:\/\/cluster.local\/ns\/shop\/sa\/db, but the requester proved .*sa\/web/.test(e.message));
  await assert.rejects(ca.sign("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", WEB), (e) => e instanceof ZmError && e.code === "ZM_CA_CSR_INVALID");
});

test("ca: issued certificates carry real mutual TLS, and the peer's SPIFFE identity is readable", async () => {
  const ca = await CertificateAuthority.open({ stateDir: tmp(), workloadTtlMs: HOUR });
  const server = await issue(ca, DB);
  const client = await issue(ca, WEB);
  const srv = createServer({ cert: server.certPem, key: server.keyPem, ca: ca.rootPem, requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
    s.end(`hello ${s.getPeerCertificate().subjectaltname}`);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  const talk = (opts: object) => new Promise<string>((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port, ca: ca.rootPem, checkServerIdentity: () => undefined, ...opts });
    let data = "";
    c.on("data", (d) => (data += d));
    c.on("end", () => resolve(data));
    c.on("error", reject);
  });
  // With TLS 1.3 the server rejects a client certificate after the client's
  // handshake finished: the client sees an error or a bare close, never the answer.
  const served = (opts: object) => talk(opts).then((d) => d.startsWith("hello"), () => false);
  try {
    assert.equal(await talk({ cert: client.certPem, key: client.keyPem }), `hello URI:${WEB}`);
    assert.equal(await served({}), false, "a client without a mesh certificate is refused");
    const rogue = await CertificateAuthority.open({ stateDir: tmp(), workloadTtlMs: HOUR });
    const fake = await issue(rogue, WEB);
    assert.equal(await served({ cert: fake.certPem, key: fake.keyPem }), false, "a certificate from another CA is refused");
  } finally {
    srv.close();
  }
});

test("ca: plug-in CA in Istio's layout (RSA intermediate under a root)", async () => {
  const dir = tmp();
  const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "ext.cnf"), "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root-key.pem", "-out", "root-cert.pem", "-days", "2", "-subj", "/O=Acme/CN=Acme Root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.csr", "-subj", "/O=Acme/CN=Acme Mesh Intermediate");
  ossl("x509", "-req", "-in", "ca.csr", "-CA", "root-cert.pem", "-CAkey", "root-key.pem", "-CAcreateserial", "-out", "ca-cert.pem", "-days", "1", "-extfile", "ext.cnf", "-extensions", "ca");
  execFileSync("sh", ["-c", "cat ca-cert.pem root-cert.pem > cert-chain.pem"], { cwd: dir });
  const ca = await CertificateAuthority.open({ stateDir: tmp(), pluginDir: dir, workloadTtlMs: HOUR });
  assert.match(ca.source, /plug-in CA/);
  const issued = await issue(ca, WEB);
  const leaf = new X509Certificate(issued.certPem);
  const intermediate = new X509Certificate(issued.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
  assert.ok(leaf.verify(intermediate.publicKey), "signed by the intermediate (RSA)");
  assert.ok(intermediate.verify(new X509Certificate(ca.rootPem).publicKey), "which chains to the root");

  const broken = tmp();
  await assert.rejects(CertificateAuthority.open({ stateDir: tmp(), pluginDir: broken, workloadTtlMs: HOUR }), (e) => e instanceof ZmError && e.code === "ZM_CA_PLUGIN_INVALID" && /missing ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem/.test(e.message));
});

test("bootstrap: a credential proves one identity until it expires", () => {
  const dir = tmp();
  const auth = BootstrapAuthority.openOrCreate(dir);
  const t = new Date("2026-11-21T12:00:00Z");
  const token = auth.issue({ workload: "shop/web", spiffe: WEB }, new Date(t.getTime() + HOUR));
  const claim = BootstrapAuthority.openOrCreate(dir).verify(token, t);
  assert.deepEqual({ workload: claim.workload, spiffe: claim.spiffe }, { workload: "shop/web", spiffe: WEB });
  const [payload, mac] = token.split(".");
  const forged = Buffer.from(Buffer.from(payload!, "base64url").toString().replace("sa/web", "sa/db")).toString("base64url");
  assert.throws(() => auth.verify(`${forged}.${mac}`, t), /does not verify/);
  assert.throws(() => auth.verify(token, new Date(t.getTime() + 2 * HOUR)), /expired/);
  assert.throws(() => BootstrapAuthority.openOrCreate(tmp()).verify(token, t), /does not verify/);
  assert.throws(() => auth.verify("nonsense", t), /malformed/);
  // Good for one certificate: spent, it buys no other, also from a control plane restarted on the same state; the same
  // CSR may ask again (its proxy lost the answer).
  auth.spend(claim, t, "csr-1");
  assert.throws(() => auth.spend(claim, t, "csr-2"), /already used/);
  assert.throws(() => BootstrapAuthority.openOrCreate(dir).spend(claim, t, "csr-2"), /already used/);
  auth.spend(claim, t, "csr-1");
  BootstrapAuthority.openOrCreate(dir).spend(claim, t, "csr-1");
  auth.refund(claim);
  auth.spend(claim, t, "csr-3");
  assert.throws(() => auth.spend(claim, t, "csr-1"), /already used/, "a refund (no certificate was issued) lets another CSR have it");
});

test("bootstrap: good up to its expiry to the millisecond; malformed and oversized credentials are refused before any check", () => {
  const auth = BootstrapAuthority.openOrCreate(tmp());
  const t = new Date("2026-11-21T12:00:00Z");
  const token = auth.issue({ workload: "shop/web", spiffe: WEB }, t);
  assert.equal(auth.verify(token, t).expiresAt, t.getTime());
  assert.throws(() => auth.verify(token, new Date(t.getTime() + 1)), /expired/);
  const [payload, mac] = token.split(".");
  for (const bad of [`${payload}.${mac}.x`, `.${mac}`, `${payload}.`, `${payload}.${mac}${"A".repeat(4097)}`, "a".repeat(4097) + "." + "b"]) {
    assert.throws(() => auth.verify(bad, t), (e) => e instanceof ZmError && e.code === "ZM_BOOTSTRAP_REJECTED" && /malformed/.test(e.message), bad.slice(0, 30));
  }
  // A signature of the right length but not ours, or of another length: refused as such, not as a crash.
  const notOurs = (e: unknown) => e instanceof ZmError && e.code === "ZM_BOOTSTRAP_REJECTED" && /does not verify/.test(e.message);
  assert.throws(() => auth.verify(`${payload}.${"A".repeat(mac!.length)}`, t), notOurs);
  assert.throws(() => auth.verify(`${payload}.${mac!.slice(1)}`, t), notOurs);
  // 4,096 characters is still a credential's size (refused by its signature); one more is not.
  const padded = `${payload}.${"A".repeat(4096 - payload!.length - 1)}`;
  assert.equal(padded.length, 4096);
  assert.throws(() => auth.verify(padded, t), notOurs);
});

test("bootstrap: its key and the spent list are the owner's alone; spent credentials past expiry are forgotten; a damaged list is ignored entry by entry", () => {
  const dir = tmp();
  const auth = BootstrapAuthority.openOrCreate(dir);
  assert.equal(statSync(join(dir, "bootstrap.key")).mode & 0o777, 0o600);
  assert.match(readFileSync(join(dir, "bootstrap.key"), "utf8"), /^[0-9a-f]{64}$/);
  const t = new Date("2026-11-21T12:00:00Z");
  const early = auth.verify(auth.issue({ workload: "shop/web", spiffe: WEB }, new Date(t.getTime() + 1000)), t);
  const late = auth.verify(auth.issue({ workload: "shop/web", spiffe: WEB }, new Date(t.getTime() + HOUR)), t);
  auth.spend(early, t, "csr-a");
  const file = join(dir, "bootstrap-spent.json");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, "utf8"))), [early.id]);
  // At its expiry it is still remembered; a millisecond later, the next spend forgets it (the signature check refuses it now).
  auth.spend(late, new Date(t.getTime() + 1000), "csr-b");
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, "utf8"))).sort(), [early.id, late.id].sort());
  auth.spend(late, new Date(t.getTime() + 1001), "csr-b");
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, "utf8"))), [late.id]);
  // A list with a bad entry keeps the good ones; one that is not JSON is no list.
  writeFileSync(file, JSON.stringify({ z: null, x: { e: "soon", csr: "c" }, y: { e: 1 }, w: { e: late.expiresAt }, [late.id]: { e: late.expiresAt, csr: "csr-b" } }));
  assert.throws(() => BootstrapAuthority.openOrCreate(dir).spend(late, t, "csr-other"), /already used/);
  // ...and a later spend writes back only well-formed entries.
  const fresh = auth.verify(auth.issue({ workload: "shop/web", spiffe: WEB }, new Date(t.getTime() + HOUR)), t);
  BootstrapAuthority.openOrCreate(dir).spend(fresh, t, "csr-fresh");
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, "utf8"))).sort(), [late.id, fresh.id].sort());
  writeFileSync(file, "{not json");
  BootstrapAuthority.openOrCreate(dir).spend(late, t, "csr-other");
});

/** A plug-in CA directory in Istio's layout made with openssl; `bad` breaks one thing about it. */
function pluginDir(bad?: "not-a-ca" | "wrong-key" | "foreign-root"): string {
  const dir = tmp();
  const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "ext.cnf"), "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n[leaf]\nbasicConstraints=critical,CA:FALSE\n");
  const root = (name: string) => ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}-cert.pem`, "-days", "2", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  root("root");
  // Another root with the same name and its own key: only a signature check tells them apart.
  ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other-key.pem", "-out", "other-cert.pem", "-days", "2", "-subj", "/CN=root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.csr", "-subj", "/CN=intermediate");
  ossl("x509", "-req", "-in", "ca.csr", "-CA", "root-cert.pem", "-CAkey", "root-key.pem", "-CAcreateserial", "-out", "ca-cert.pem", "-days", "1", "-extfile", "ext.cnf", "-extensions", bad === "not-a-ca" ? "leaf" : "ca");
  if (bad === "wrong-key") execFileSync("cp", ["other-key.pem", "ca-key.pem"], { cwd: dir });
  execFileSync("sh", ["-c", "cat ca-cert.pem root-cert.pem > cert-chain.pem"], { cwd: dir });
  if (bad === "foreign-root") execFileSync("sh", ["-c", "cp other-cert.pem root-cert.pem && cp ca-cert.pem cert-chain.pem"], { cwd: dir });
  return dir;
}

test("ca: a plug-in CA that is no CA, whose key is not its certificate's, or whose chain leads elsewhere is refused, saying which", async () => {
  const open = (dir: string) => CertificateAuthority.open({ stateDir: tmp(), pluginDir: dir, workloadTtlMs: HOUR });
  assert.match((await open(pluginDir())).source, /plug-in CA/);
  const refused = (re: RegExp) => (e: unknown) => e instanceof ZmError && e.code === "ZM_CA_PLUGIN_INVALID" && re.test(e.message);
  await assert.rejects(open(pluginDir("not-a-ca")), refused(/ca-cert\.pem is not a CA certificate/));
  await assert.rejects(open(pluginDir("wrong-key")), refused(/ca-key\.pem does not belong to ca-cert\.pem/));
  await assert.rejects(open(pluginDir("foreign-root")), refused(/cert-chain\.pem does not lead from ca-cert\.pem to root-cert\.pem/));
});

test("ca: a plug-in CA two levels below its root is found through cert-chain.pem", async () => {
  const dir = tmp();
  const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "ext.cnf"), "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  const key = (name: string) => ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}-key.pem`];
  ossl("req", "-x509", ...key("root"), "-out", "root-cert.pem", "-days", "2", "-subj", "/CN=root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  ossl("req", ...key("mid"), "-out", "mid.csr", "-subj", "/CN=mid");
  ossl("x509", "-req", "-in", "mid.csr", "-CA", "root-cert.pem", "-CAkey", "root-key.pem", "-CAcreateserial", "-out", "mid-cert.pem", "-days", "1", "-extfile", "ext.cnf", "-extensions", "ca");
  ossl("req", ...key("ca"), "-out", "ca.csr", "-subj", "/CN=mesh");
  ossl("x509", "-req", "-in", "ca.csr", "-CA", "mid-cert.pem", "-CAkey", "mid-key.pem", "-CAcreateserial", "-out", "ca-cert.pem", "-days", "1", "-extfile", "ext.cnf", "-extensions", "ca");
  execFileSync("sh", ["-c", "cat ca-cert.pem mid-cert.pem root-cert.pem > cert-chain.pem"], { cwd: dir });
  const ca = await CertificateAuthority.open({ stateDir: tmp(), pluginDir: dir, workloadTtlMs: HOUR });
  const issued = await issue(ca, WEB);
  assert.equal((issued.chainPem.match(/BEGIN CERTIFICATE/g) ?? []).length, 3, "the leaf travels with ca-cert, mid and root");
  // Without the middle certificate, the chain does not reach the root.
  execFileSync("sh", ["-c", "cat ca-cert.pem root-cert.pem > cert-chain.pem"], { cwd: dir });
  await assert.rejects(CertificateAuthority.open({ stateDir: tmp(), pluginDir: dir, workloadTtlMs: HOUR }), /does not lead from ca-cert\.pem to root-cert\.pem/);
});

test("ca: a CSR with the proven SPIFFE URI and anything more (a DNS name, a second URI) is refused; a root made once is 0600 in a 0700 folder", async () => {
  const dir = tmp();
  const ca = await CertificateAuthority.open({ stateDir: dir, workloadTtlMs: HOUR });
  const csr = (san: string) => {
    execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem", "-out", "r.csr", "-subj", "/CN=x", "-addext", `subjectAltName=${san}`], { cwd: dir, stdio: "pipe" });
    return readFileSync(join(dir, "r.csr"), "utf8");
  };
  const mismatch = (e: unknown) => e instanceof ZmError && e.code === "ZM_CA_IDENTITY_MISMATCH";
  await assert.rejects(ca.sign(csr(`URI:${WEB},DNS:evil.example.com`), WEB), mismatch);
  await assert.rejects(ca.sign(csr(`URI:${WEB},URI:${DB}`), WEB), mismatch);
  const ok = await ca.sign(csr(`URI:${WEB}`), WEB);
  const cert = new X509Certificate(ok.certPem);
  assert.equal(cert.subjectAltName, `URI:${WEB}`);
  assert.match(cert.subject, /CN=shop\/sa\/web/);
  // Valid from five minutes back (clocks differ a little between machines).
  const skew = Date.now() - new Date(cert.validFrom).getTime();
  assert.ok(skew >= 4 * 60_000 && skew <= 6 * 60_000, `notBefore ${cert.validFrom}`);
  assert.equal(statSync(join(dir, "ca")).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, "ca", "root-key.pem")).mode & 0o777, 0o600);
  const root = new X509Certificate(ca.rootPem);
  const years = (new Date(root.validTo).getTime() - Date.now()) / (365 * 86_400_000);
  assert.ok(years > 9.9 && years < 10.1, "the root lives ten years");
  // A root whose key went missing is not reused: a new root is made.
  rmSync(join(dir, "ca", "root-key.pem"));
  assert.notEqual((await CertificateAuthority.open({ stateDir: dir, workloadTtlMs: HOUR })).rootPem, ca.rootPem);
});
