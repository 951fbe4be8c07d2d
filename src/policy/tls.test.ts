import { test } from "node:test";
import assert from "node:assert/strict";
import { createRoot, issueLeaf } from "../ca/x509.js";
import { createHash } from "node:crypto";
import type { TlsVersion } from "../api/types.js";
import { cipherCheck, clientCertAccepted, verifyClientCert, verifyServerCert, versionsOverlap, type ClientCertRules } from "./tls.js";

const now = new Date();
const valid = { notBefore: new Date(now.getTime() - 3_600_000), notAfter: new Date(now.getTime() + 86_400_000) };

test("tls: server certificate checks — trusted root, name, validity", async () => {
  const root = await createRoot("one", valid);
  const other = await createRoot("two", valid);
  const leaf = await issueLeaf(root, { commonName: "a.example.com", dnsNames: ["a.example.com", "*.b.example.com"], validity: valid });
  const expired = await issueLeaf(root, { commonName: "a.example.com", dnsNames: ["a.example.com"], validity: { notBefore: new Date(now.getTime() - 2 * 86_400_000), notAfter: new Date(now.getTime() - 86_400_000) } });
  assert.equal(verifyServerCert([leaf.cert], [root.cert], "a.example.com", now).ok, true, "trusted, matching name");
  assert.equal(verifyServerCert([leaf.cert], [root.cert], "x.b.example.com", now).ok, true, "wildcard SAN");
  const wrongCa = verifyServerCert([leaf.cert], [other.cert], "a.example.com", now);
  assert.equal(wrongCa.ok, false);
  assert.match(wrongCa.reason, /does not chain to a trusted root/);
  const wrongName = verifyServerCert([leaf.cert], [root.cert], "c.example.com", now);
  assert.equal(wrongName.ok, false);
  assert.match(wrongName.reason, /does not match the name "c.example.com"/);
  const old = verifyServerCert([expired.cert], [root.cert], "a.example.com", now);
  assert.equal(old.ok, false);
  assert.match(old.reason, /is not valid at/);
  assert.equal(verifyServerCert([leaf.cert], [], "a.example.com", now).ok, false, "trusting nothing fails");
});

test("tls: SPIFFE URI SANs are carried and a wrong issuer is refused for clients", async () => {
  const mesh = await createRoot("mesh", valid);
  const rogue = await createRoot("rogue", valid);
  const id = "spiffe://cluster.local/ns/shop/sa/web";
  const good = await issueLeaf(mesh, { commonName: "web", uris: [id], client: true, validity: valid });
  const bad = await issueLeaf(rogue, { commonName: "web", uris: [id], client: true, validity: valid });
  assert.match(good.cert.subjectAltName ?? "", /URI:spiffe:\/\/cluster.local\/ns\/shop\/sa\/web/);
  assert.equal(verifyClientCert([good.cert], [mesh.cert], now).ok, true);
  assert.equal(verifyClientCert([bad.cert], [mesh.cert], now).ok, false);
  assert.match(verifyClientCert(undefined, [mesh.cert], now).reason, /none was presented/);
  assert.match(verifyClientCert([good.cert], [], now).reason, /no CA to verify client certificates/);
});

test("tls: protocol version ranges against a TLS 1.2–1.3 client", () => {
  const table: [Parameters<typeof versionsOverlap>[0], Parameters<typeof versionsOverlap>[1], boolean][] = [
    ["TLS_AUTO", "TLS_AUTO", true], ["TLSV1_3", "TLS_AUTO", true], ["TLSV1_0", "TLSV1_1", false],
    ["TLSV1_0", "TLSV1_2", true], ["TLS_AUTO", "TLSV1_2", true], ["TLSV1_3", "TLSV1_3", true],
  ];
  for (const [min, max, ok] of table) assert.equal(versionsOverlap(min, max).ok, ok, `${min}..${max}`);
});

test("tls: a MUTUAL server's subjectAltNames and certificate pins", async () => {
  const ca = await createRoot("partner", valid);
  const leaf = (await issueLeaf(ca, { commonName: "billing", dnsNames: ["billing.partner.test"], uris: ["spiffe://partner/billing"], client: true, validity: valid })).cert;
  const none = { subjectAltNames: [], verifyCertificateSpki: [], verifyCertificateHash: [] };
  const spki = createHash("sha256").update(leaf.publicKey.export({ type: "spki", format: "der" })).digest("base64");
  const cases: [string, Partial<ClientCertRules>, boolean][] = [
    ["no rules", {}, true],
    ["DNS SAN listed", { subjectAltNames: ["billing.partner.test"] }, true],
    ["URI SAN listed", { subjectAltNames: ["spiffe://partner/billing"] }, true],
    ["SAN not listed", { subjectAltNames: ["marketing.partner.test"] }, false],
    ["SAN prefix is not a match", { subjectAltNames: ["billing.partner"] }, false],
    ["SPKI pin", { verifyCertificateSpki: [spki] }, true],
    ["certificate hash pin", { verifyCertificateHash: [leaf.fingerprint256.replace(/:/g, "").toLowerCase()] }, true],
    ["wrong pin", { verifyCertificateHash: ["00".repeat(32)] }, false],
  ];
  for (const [name, rules, ok] of cases) assert.equal(clientCertAccepted(leaf, { ...none, ...rules }).ok, ok, name);
});

test("tls: cipherSuites restrict TLS 1.2 only, and must suit the key", () => {
  const cases: [string[], TlsVersion, string, boolean][] = [
    [[], "TLSV1_2", "ec", true],
    [["ECDHE-RSA-AES128-GCM-SHA256"], "TLS_AUTO", "ec", true],
    [["ECDHE-RSA-AES128-GCM-SHA256"], "TLSV1_2", "ec", false],
    [["ECDHE-RSA-AES128-GCM-SHA256"], "TLSV1_2", "rsa", true],
    [["ECDHE-ECDSA-AES128-GCM-SHA256", "AES128-SHA"], "TLSV1_2", "rsa", true],
    [["ECDHE-ECDSA-AES128-GCM-SHA256"], "TLSV1_2", "rsa", false],
  ];
  for (const [suites, max, key, ok] of cases) assert.equal(cipherCheck(suites, max, key).ok, ok, `${suites.join(",")} ${max} ${key}`);
});
