// Istio's own validation test cases, ported (test/istio-validation/): the CRD
// schema cases (pkg/config/validation/testdata/crds) and the webhook's tables
// (pkg/config/validation/validation_test.go), each resource as Istio's test
// gives it and whether Istio accepts it. zeromesh must agree on every one,
// except the differences listed here with their reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { errorsOf, formatIssue } from "./errors.js";
import { DEFAULT_MESH } from "./mesh.js";
import { parseTexts } from "../store/apply.js";

interface PortedCase {
  source: string;
  valid: boolean;
  /** The CRD cases: the YAML text; the webhook cases: the object. */
  yaml?: string;
  doc?: unknown;
}

const load = (file: string): PortedCase[] => JSON.parse(readFileSync(new URL(`../../test/istio-validation/${file}`, import.meta.url), "utf8")) as PortedCase[];

/** Where zeromesh knowingly differs, and why. A listed case that starts agreeing fails this test, so the list stays true. */
const KNOWN: Record<string, string> = {
  // `[1.2.3.4, 001:db8::]`: the YAML 1.2 parser (yaml) reads `001:db8::` in a flow sequence as a mapping; Kubernetes'
  // go-yaml reads a string. The address itself is accepted when quoted.
  "pkg/config/validation/testdata/crds/serviceentry-valid.yaml#1": "YAML 1.2 flow-sequence parsing",
  // The case sets the label istio.io/use-waypoint, which the port of Go struct literals does not carry; zeromesh runs no waypoints.
  "pkg/config/validation/validation_test.go TestValidateServiceEntries: discovery type DYNAMIC_DNS, MESH_INTERNAL with waypoint (invalid)": "waypoint label not ported",
};

function verdict(c: PortedCase): { valid: boolean; errors: string[] } {
  const text = c.yaml !== undefined
    // kubectl puts an object without a namespace in "default".
    ? (c.yaml.includes("namespace:") ? c.yaml : c.yaml.replace(/^metadata:\n/m, "metadata:\n  namespace: default\n"))
    : JSON.stringify(c.doc);
  const errors = errorsOf(parseTexts([{ text, file: "case" }], DEFAULT_MESH).issues).map(formatIssue);
  return { valid: errors.length === 0, errors };
}

for (const file of ["crd-cases.json", "webhook-cases.json"]) {
  const cases = load(file);
  const byKind = new Map<string, PortedCase[]>();
  for (const c of cases) {
    const kind = c.yaml !== undefined ? /^kind: (\w+)/m.exec(c.yaml)?.[1] ?? "?" : (c.doc as { kind: string }).kind;
    byKind.set(kind, [...(byKind.get(kind) ?? []), c]);
  }
  for (const [kind, list] of byKind) {
    test(`Istio's ${file.startsWith("crd") ? "CRD" : "webhook"} validation cases for ${kind} (${list.length})`, () => {
      const wrong: string[] = [];
      for (const c of list) {
        const v = verdict(c);
        const agrees = v.valid === c.valid;
        if (KNOWN[c.source] !== undefined) {
          if (agrees) wrong.push(`${c.source}: listed as a known difference (${KNOWN[c.source]}) but now agrees; remove it from KNOWN`);
        } else if (!agrees) {
          wrong.push(`${c.source}: Istio ${c.valid ? "accepts" : "rejects"} it, zeromesh ${v.valid ? "accepts" : `rejects: ${v.errors.join("; ")}`}`);
        }
      }
      assert.deepEqual(wrong, []);
    });
  }
}
