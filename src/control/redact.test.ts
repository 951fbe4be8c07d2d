import { test } from "node:test";
import assert from "node:assert/strict";
import { redactKeys } from "./redact.js";

const KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";
const EC_KEY = KEY.replace(/PRIVATE KEY/g, "EC PRIVATE KEY");
const CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY\n-----END CERTIFICATE-----\n";
const b64 = (s: string) => Buffer.from(s).toString("base64");

test("redactKeys: private keys in PEM or base64 of PEM are hidden at any depth; certificates and the rest stay", () => {
  const cases: [string, unknown, unknown][] = [
    ["PEM key", KEY, "[redacted]"],
    ["EC key", EC_KEY, "[redacted]"],
    ["RSA key", KEY.replace(/PRIVATE KEY/g, "RSA PRIVATE KEY"), "[redacted]"],
    ["key after a certificate", CERT + KEY, "[redacted]"],
    ["base64 of a key (Secret data)", b64(KEY), "[redacted]"],
    ["base64 with line breaks", b64(KEY).replace(/(.{40})/g, "$1\n"), "[redacted]"],
    ["certificate", CERT, CERT],
    ["base64 of a certificate", b64(CERT), b64(CERT)],
    ["short base64", "QUJD", "QUJD"],
    ["plain text", "hello", "hello"],
    ["a public key", KEY.replace(/PRIVATE/g, "PUBLIC"), KEY.replace(/PRIVATE/g, "PUBLIC")],
    ["number", 7, 7],
    ["null", null, null],
    ["boolean", true, true],
  ];
  for (const [what, input, want] of cases) assert.deepEqual(redactKeys(input), want, what);
  const secret = { kind: "Secret", data: { "tls.key": b64(KEY), "tls.crt": b64(CERT) }, list: [KEY, CERT, { deeper: [EC_KEY] }] };
  const shown = redactKeys(secret);
  assert.deepEqual(shown, { kind: "Secret", data: { "tls.key": "[redacted]", "tls.crt": b64(CERT) }, list: ["[redacted]", CERT, { deeper: ["[redacted]"] }] });
  assert.equal(secret.data["tls.key"], b64(KEY), "the original is untouched");
});
