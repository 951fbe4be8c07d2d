import { checkCidr } from "../cidr.js";
import type { Reader } from "../reader.js";
import type { AuthorizationPolicy, AuthzAction, AuthzCondition, AuthzOperation, AuthzRule, AuthzSource, Origin } from "../types.js";
import { readMeta, readPolicyTarget } from "./meta.js";

const ACTIONS: readonly AuthzAction[] = ["ALLOW", "DENY", "AUDIT", "CUSTOM"];

const SOURCE_FIELDS = [
  "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
  "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts",
  "trustDomains", "notTrustDomains",
] as const;
const OPERATION_FIELDS = ["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"] as const;

/** Condition keys Istio accepts in `when`; `[...]` keys take a name. */
const CONDITION_KEYS = [
  "source.ip", "remote.ip", "source.namespace", "source.principal", "source.serviceAccount",
  "request.auth.principal", "request.auth.audiences", "request.auth.presenter", "source.trustDomain",
  "destination.ip", "destination.port", "connection.sni",
];
const CONDITION_PREFIXES = ["request.headers[", "request.auth.claims[", "experimental.envoy.filters."];

export function checkConditionKey(key: string): string | undefined {
  if (CONDITION_KEYS.includes(key)) return undefined;
  for (const p of CONDITION_PREFIXES) {
    if (key.startsWith(p)) {
      if (p.endsWith("[") && !/^[^\[\]]+\[[^\[\]]+\](\[[^\[\]]+\])*$/.test(key)) return `"${key}" must name a field in brackets, like ${p}NAME]`;
      return undefined;
    }
  }
  return `unknown condition key "${key}"`;
}

export function readAuthorizationPolicy(doc: Reader, origin: Origin): AuthorizationPolicy {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["selector", "targetRef", "targetRefs", "rules", "action", "provider"]);
  const { selector, targets } = readPolicyTarget(spec);
  const targeted = targets.length > 0 ? { targeted: true } : {};
  const action = spec.field("action").enumOf(ACTIONS, "ALLOW")!;
  const prov = spec.field("provider").object(["name"]);
  const provider = prov.field("name").string();
  if (action === "CUSTOM" && !provider) spec.field("provider").error("CUSTOM action needs provider.name");
  // Istio's webhook: CUSTOM and DENY without `rules` would never be triggered (`rules: [{}]` matches everything).
  const rulesR = spec.field("rules");
  if ((action === "CUSTOM" || action === "DENY") && (!rulesR.present || (Array.isArray(rulesR.value) && !rulesR.value.length))) spec.error(`${action} action without \`rules\` is meaningless as it will never be triggered; add an empty rule \`{}\` to trigger it for every request`);
  if (action !== "CUSTOM" && prov.present) spec.field("provider").error(`provider is only valid with action CUSTOM, not ${action}`);
  const dryRunAnno = meta.annotations["istio.io/dry-run"];
  if (dryRunAnno !== undefined && dryRunAnno !== "true" && dryRunAnno !== "false") {
    doc.field("metadata").field("annotations").field("istio.io/dry-run").error(`must be "true" or "false", got "${dryRunAnno}"`);
  }
  if (dryRunAnno !== undefined && action !== "ALLOW" && action !== "DENY") doc.field("metadata").error(`the annotation istio.io/dry-run only supports action ALLOW or DENY, not ${action}`);
  return {
    kind: "AuthorizationPolicy", meta, origin, action, provider, ...targeted,
    selector,
    rules: spec.field("rules").list().map((r, i) => {
      const rule = readRule(r, i, meta.namespace);
      if (action === "CUSTOM") checkCustomRule(r, rule);
      return rule;
    }),
    dryRun: dryRunAnno === "true",
  };
}

function readValues(r: Reader, check?: (v: string) => string | undefined): string[] | undefined {
  if (!r.present) return undefined;
  const vals = r.strings();
  vals.forEach((v, i) => {
    const err = v === "" ? "must not be empty" : check?.(v);
    if (err) r.error(err, `${r.path}[${i}]`);
  });
  return vals;
}

const checkPort = (v: string) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? undefined : `"${v}" is not a port number`);

/**
 * `from` and `to` share a shape: an optional, non-empty list of wrappers
 * (`{source: …}` / `{operation: …}`), each with at least one field set.
 */
function readClauses<T>(r: Reader, wrapper: string, fields: readonly string[], read: (body: Reader) => T): T[] | undefined {
  if (!r.present) return undefined;
  const list = r.list();
  if (list.length === 0) r.error("must not be empty when set");
  return list.map((item) => {
    item.object([wrapper]);
    const body = item.field(wrapper).object(fields);
    if (!body.present || body.keys().length === 0) body.error("must not be empty");
    return read(body);
  });
}

function readSource(s: Reader, namespace: string): AuthzSource {
  const src: AuthzSource = {};
  for (const k of ["principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces", "trustDomains", "notTrustDomains"] as const) src[k] = readValues(s.field(k));
  for (const k of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const) src[k] = readValues(s.field(k), checkCidr);
  for (const k of ["serviceAccounts", "notServiceAccounts"] as const) {
    // "namespace/name", or a bare name in the policy's namespace; no wildcards (the CRD's rule).
    src[k] = readValues(s.field(k), (v) => (/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v) ? undefined : `"${v}" must be a service account name, or namespace/name`))
      ?.map((v) => (v.includes("/") ? v : `${namespace}/${v}`));
  }
  const sa = src.serviceAccounts ?? src.notServiceAccounts;
  if (sa && (src.namespaces || src.notNamespaces || src.principals || src.notPrincipals)) s.error("Cannot set serviceAccounts with namespaces or principals");
  return src;
}

function readOperation(o: Reader): AuthzOperation {
  const op: AuthzOperation = {};
  for (const k of ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"] as const) op[k] = readValues(o.field(k));
  for (const k of ["ports", "notPorts"] as const) op[k] = readValues(o.field(k), checkPort);
  return op;
}

function readRule(r: Reader, index: number, namespace: string): AuthzRule {
  r.object(["from", "to", "when"]);
  const rule: AuthzRule = { index };
  const from = readClauses(r.field("from"), "source", SOURCE_FIELDS, (b) => readSource(b, namespace));
  if (from) rule.from = from;
  const to = readClauses(r.field("to"), "operation", OPERATION_FIELDS, readOperation);
  if (to) rule.to = to;
  const when = r.field("when");
  if (when.present) {
    rule.when = when.list().map((c): AuthzCondition => {
      c.object(["key", "values", "notValues"]);
      const key = c.field("key").string({ required: true }) ?? "";
      const keyErr = key ? checkConditionKey(key) : c.field("key").present ? "`key` must not be empty" : undefined;
      if (keyErr) c.field("key").error(keyErr);
      const check = key === "source.ip" || key === "remote.ip" || key === "destination.ip" ? checkCidr : key === "destination.port" ? checkPort : undefined;
      const values = readValues(c.field("values"), check);
      const notValues = readValues(c.field("notValues"), check);
      if (!values?.length && !notValues?.length) c.error("needs values or notValues");
      return { key, values, notValues };
    });
  }
  return rule;
}

/** Fields the CUSTOM action cannot use: the authorizer is asked before the mesh identity or end user is matched (Istio's webhook). */
function checkCustomRule(r: Reader, rule: AuthzRule): void {
  const unsupported = ["namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "trustDomains", "notTrustDomains", "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals"] as const;
  rule.from?.forEach((s, i) => {
    for (const k of unsupported) if (s[k]) r.field("from").error(`${k} is currently not supported with CUSTOM action`, `${r.field("from").path}[${i}].source.${k}`);
  });
  rule.when?.forEach((c, i) => {
    if (["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"].includes(c.key) || c.key.startsWith("request.auth.")) {
      r.field("when").error(`${c.key} is currently not supported with CUSTOM action`, `${r.field("when").path}[${i}].key`);
    }
  });
}
