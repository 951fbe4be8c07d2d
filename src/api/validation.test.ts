import { test } from "node:test";
import assert from "node:assert/strict";
import { issuesOf } from "../testing/helpers.js";
import { DEFAULT_MESH, mergeMeshConfig } from "./mesh.js";

const AP = (spec: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: ns}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const GW = (spec: string) => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: ns}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const SC = (spec: string) => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: ns}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const VS = (spec: string) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: ns}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const SE = (spec: string) => `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: e, namespace: ns}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const PA = (spec: string) => `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: pa, namespace: ns}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const RA = (spec: string) => `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: ra, namespace: ns}\nspec:\n${spec.replace(/^/gm, "  ")}`;
const DR = (spec: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: ns}\nspec:\n${spec.replace(/^/gm, "  ")}`;

const SERVER = `servers:\n- port: {number: 443, name: https, protocol: HTTPS}\n  hosts: ["a.example.com"]\n  tls: {mode: SIMPLE, credentialName: c}`;

/** Each invalid input and the one error line it must produce (exactly). */
const invalid: { name: string; yaml: string; error: string }[] = [
  { name: "wrong enum", yaml: GW(SERVER.replace("SIMPLE", "SIMPLEST")), error: "input.yaml#1 Gateway/ns/g spec.servers[0].tls.mode: must be one of PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL, got \"SIMPLEST\" [ZM_INVALID_RESOURCE]" },
  { name: "unknown protocol", yaml: GW(SERVER.replace("protocol: HTTPS", "protocol: HTTP3")), error: "input.yaml#1 Gateway/ns/g spec.servers[0].port.protocol: must be one of HTTP, HTTP2, GRPC, HTTPS, TLS, TCP, MONGO, REDIS, MYSQL, UDP, got \"HTTP3\" [ZM_INVALID_RESOURCE]" },
  { name: "malformed gateway host", yaml: GW(SERVER.replace("a.example.com", "a..example.com")), error: "input.yaml#1 Gateway/ns/g spec.servers[0].hosts[0]: host \"a..example.com\" is not a valid DNS name (label \"\") [ZM_INVALID_RESOURCE]" },
  { name: "wildcard in the middle", yaml: SE(`hosts: ["api.*.com"]\nports: [{number: 80, name: http, protocol: HTTP}]`), error: "input.yaml#1 ServiceEntry/ns/e spec.hosts[0]: host \"api.*.com\" may only have a wildcard at the start of its first label (\"*.example.com\") [ZM_INVALID_RESOURCE]" },
  { name: "HTTPS server without tls", yaml: GW(`servers:\n- port: {number: 443, name: https, protocol: HTTPS}\n  hosts: ["*"]`), error: "input.yaml#1 Gateway/ns/g spec.servers[0].tls: server with protocol HTTPS must have tls settings [ZM_INVALID_RESOURCE]" },
  { name: "SIMPLE with a certificate but no key", yaml: GW(SERVER.replace("credentialName: c", "serverCertificate: /etc/certs/tls.crt")), error: "input.yaml#1 Gateway/ns/g spec.servers[0].tls: SIMPLE TLS requires a private key [ZM_INVALID_RESOURCE]" },
  { name: "missing port name", yaml: GW(SERVER.replace("name: https, ", "")), error: "input.yaml#1 Gateway/ns/g spec.servers[0].port.name: is required [ZM_INVALID_RESOURCE]" },
  { name: "port out of range", yaml: GW(SERVER.replace("443", "70000")), error: "input.yaml#1 Gateway/ns/g spec.servers[0].port.number: must be between 1 and 65535, got 70000 [ZM_INVALID_RESOURCE]" },
  { name: "unknown field", yaml: GW(SERVER + "\n  hostz: [x]"), error: "input.yaml#1 Gateway/ns/g spec.servers[0].hostz: unknown field \"hostz\" [ZM_INVALID_RESOURCE]" },
  { name: "wrong field type (string for list)", yaml: GW(SERVER.replace('hosts: ["a.example.com"]', "hosts: a.example.com")), error: "input.yaml#1 Gateway/ns/g spec.servers[0].hosts: must be a list, got string \"a.example.com\" [ZM_INVALID_RESOURCE]" },
  { name: "wrong field type (number for string)", yaml: AP(`rules: [{to: [{operation: {methods: [7]}}]}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].to[0].operation.methods[0]: must be a string, got number 7 [ZM_INVALID_RESOURCE]" },
  { name: "bad CIDR", yaml: AP(`rules: [{from: [{source: {ipBlocks: ["10.0.0.0/33"]}}]}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].from[0].source.ipBlocks[0]: \"10.0.0.0/33\" has an invalid prefix length [ZM_INVALID_RESOURCE]" },
  { name: "bad IP", yaml: AP(`rules: [{from: [{source: {remoteIpBlocks: ["10.0.0.256"]}}]}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].from[0].source.remoteIpBlocks[0]: \"10.0.0.256\" is not an IP address or CIDR block [ZM_INVALID_RESOURCE]" },
  { name: "bad CIDR in condition", yaml: AP(`rules: [{when: [{key: source.ip, values: ["nope"]}]}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].when[0].values[0]: \"nope\" is not an IP address or CIDR block [ZM_INVALID_RESOURCE]" },
  { name: "unknown condition key", yaml: AP(`rules: [{when: [{key: source.colour, values: ["red"]}]}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].when[0].key: unknown condition key \"source.colour\" [ZM_INVALID_RESOURCE]" },
  { name: "condition without values", yaml: AP(`rules: [{when: [{key: source.ip}]}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].when[0]: needs values or notValues [ZM_INVALID_RESOURCE]" },
  { name: "empty source", yaml: AP(`rules: [{from: [{source: {}}]}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].from[0].source: must not be empty [ZM_INVALID_RESOURCE]" },
  { name: "empty from", yaml: AP(`rules: [{from: []}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].from: must not be empty when set [ZM_INVALID_RESOURCE]" },
  { name: "bad port in operation", yaml: AP(`rules: [{to: [{operation: {ports: ["http"]}}]}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].to[0].operation.ports[0]: \"http\" is not a port number [ZM_INVALID_RESOURCE]" },
  { name: "CUSTOM without provider", yaml: AP(`action: CUSTOM\nrules: [{}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.provider: CUSTOM action needs provider.name [ZM_INVALID_RESOURCE]" },
  { name: "provider without CUSTOM", yaml: AP(`action: DENY\nprovider: {name: x}\nrules: [{}]`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.provider: provider is only valid with action CUSTOM, not DENY [ZM_INVALID_RESOURCE]" },
  { name: "wrong action", yaml: AP(`action: REJECT`), error: "input.yaml#1 AuthorizationPolicy/ns/p spec.action: must be one of ALLOW, DENY, AUDIT, CUSTOM, got \"REJECT\" [ZM_INVALID_RESOURCE]" },
  { name: "portLevelMtls without selector", yaml: PA(`portLevelMtls: {8080: {mode: DISABLE}}`), error: "input.yaml#1 PeerAuthentication/ns/pa spec.portLevelMtls: portLevelMtls requires a workload selector [ZM_INVALID_RESOURCE]" },
  { name: "bad mTLS mode", yaml: PA(`mtls: {mode: STRICTER}`), error: "input.yaml#1 PeerAuthentication/ns/pa spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, got \"STRICTER\" [ZM_INVALID_RESOURCE]" },
  { name: "Sidecar host without namespace", yaml: SC(`egress: [{hosts: ["foo.com"]}]`), error: "input.yaml#1 Sidecar/ns/s spec.egress[0].hosts[0]: \"foo.com\" must have the form namespace/dnsName (for example \"./*\" or \"istio-system/*\") [ZM_INVALID_RESOURCE]" },
  { name: "Sidecar bad namespace part", yaml: SC(`egress: [{hosts: ["Bad_NS/*"]}]`), error: "input.yaml#1 Sidecar/ns/s spec.egress[0].hosts[0]: namespace \"Bad_NS\" must be \"*\", \".\" or a namespace name [ZM_INVALID_RESOURCE]" },
  { name: "Sidecar bad defaultEndpoint", yaml: SC(`ingress: [{port: {number: 80, protocol: HTTP, name: http}, defaultEndpoint: "10.0.0.1:80"}]`), error: "input.yaml#1 Sidecar/ns/s spec.ingress[0].defaultEndpoint: \"10.0.0.1:80\" must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix://PATH [ZM_INVALID_RESOURCE]" },
  { name: "empty Sidecar", yaml: SC(`{}`), error: "input.yaml#1 Sidecar/ns/s spec: empty Sidecar: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool [ZM_INVALID_RESOURCE]" },
  // validateHTTPRouteDestinations: weights are relative (no sum of 100 any more), but several need some weight.
  { name: "VS weights all zero", yaml: VS(`hosts: [a]\nhttp: [{route: [{destination: {host: a}}, {destination: {host: b}, weight: 0}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].route: total destination weight = 0 [ZM_INVALID_RESOURCE]" },
  { name: "VS negative weight", yaml: VS(`hosts: [a]\nhttp: [{route: [{destination: {host: a}, weight: -1}, {destination: {host: b}, weight: 2}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].route[0].weight: must be at least 0, got -1 [ZM_INVALID_RESOURCE]" },
  { name: "VS two match kinds", yaml: VS(`hosts: [a]\nhttp: [{match: [{uri: {exact: /a, prefix: /b}}], route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].match[0].uri: must set exactly one of exact, prefix, regex [ZM_INVALID_RESOURCE]" },
  { name: "VS bad regex", yaml: VS(`hosts: [a]\nhttp: [{match: [{uri: {regex: "(["}}], route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].match[0].uri.regex: invalid RE2 regular expression: error parsing regexp: missing closing ]: `[` [ZM_INVALID_RESOURCE]" },
  // RE2 refuses what JavaScript's RegExp would take: lookarounds, more than 1000 repeats, backreferences.
  { name: "VS regex with a lookahead (not RE2)", yaml: VS(`hosts: [a]\nhttp: [{match: [{uri: {regex: "/(?!admin).*"}}], route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].match[0].uri.regex: invalid RE2 regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?!` [ZM_INVALID_RESOURCE]" },
  { name: "VS regex repeat over 1000 (RE2's limit)", yaml: VS(`hosts: [a]\nhttp: [{match: [{headers: {x: {regex: "a{1001}"}}}], route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].match[0].headers.x.regex: invalid RE2 regular expression: error parsing regexp: invalid repeat count: `{1001}` [ZM_INVALID_RESOURCE]" },
  { name: "VS regex backreference (not RE2)", yaml: VS(`hosts: [a]\nhttp: [{match: [{uri: {regex: "/(a)\\\\1"}}], route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].match[0].uri.regex: invalid RE2 regular expression: error parsing regexp: invalid escape sequence: `\\1` [ZM_INVALID_RESOURCE]" },
  { name: "VS rewrite regex not RE2", yaml: VS(`hosts: [a]\nhttp: [{rewrite: {uriRegexRewrite: {match: "(?<=x)y", rewrite: "/z"}}, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].rewrite.uriRegexRewrite.match: invalid RE2 regular expression: error parsing regexp: invalid named capture: `(?<=x)y` [ZM_INVALID_RESOURCE]" },
  { name: "VS route and redirect", yaml: VS(`hosts: [a]\nhttp: [{redirect: {uri: /x}, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0]: route, redirect, directResponse and delegate are mutually exclusive [ZM_INVALID_RESOURCE]" },
  { name: "VS header operation on a pseudo-header", yaml: VS(`hosts: [a]\nhttp: [{headers: {request: {set: {":path": b}}}, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].headers.request.set: \":path\" is not a header name this proxy may change [ZM_INVALID_RESOURCE]" },
  { name: "VS destination header operation with an unknown verb", yaml: VS(`hosts: [a]\nhttp: [{route: [{destination: {host: a}, headers: {response: {append: {x: y}}}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].route[0].headers.response.append: unknown field \"append\" [ZM_INVALID_RESOURCE]" },
  { name: "VS rewrite with both uri and uriRegexRewrite", yaml: VS(`hosts: [a]\nhttp: [{rewrite: {uri: /x, uriRegexRewrite: {match: "^/a", rewrite: /b}}, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].rewrite: uri and uriRegexRewrite are mutually exclusive [ZM_INVALID_RESOURCE]" },
  { name: "VS corsPolicy unmatchedPreflights", yaml: VS(`hosts: [a]\nhttp: [{corsPolicy: {allowOrigins: [{exact: "https://x"}], unmatchedPreflights: DROP}, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].corsPolicy.unmatchedPreflights: must be one of FORWARD, IGNORE, got \"DROP\" [ZM_INVALID_RESOURCE]" },
  { name: "VS unknown retryOn", yaml: VS(`hosts: [a]\nhttp: [{retries: {attempts: 2, retryOn: "5xx,sometimes"}, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].retries.retryOn: \"sometimes\" is not a retry condition; use status codes or 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable [ZM_INVALID_RESOURCE]" },
  { name: "VS bad timeout", yaml: VS(`hosts: [a]\nhttp: [{timeout: soon, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].timeout: must be a duration such as \"500ms\" or \"5s\", got \"soon\" [ZM_INVALID_RESOURCE]" },
  { name: "VS delay without fixedDelay", yaml: VS(`hosts: [a]\nhttp: [{fault: {delay: {percentage: {value: 10}}}, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].fault.delay.fixedDelay: is required [ZM_INVALID_RESOURCE]" },
  { name: "VS fault percentage over 100", yaml: VS(`hosts: [a]\nhttp: [{fault: {abort: {httpStatus: 500, percentage: {value: 120}}}, route: [{destination: {host: a}}]}]`), error: "input.yaml#1 VirtualService/ns/v spec.http[0].fault.abort.percentage.value: must be between 0 and 100, got 120 [ZM_INVALID_RESOURCE]" },
  { name: "bad certificate hash", yaml: GW(SERVER.replace("mode: SIMPLE, credentialName: c}", "mode: MUTUAL, credentialName: c, verifyCertificateHash: [abc]}")), error: "input.yaml#1 Gateway/ns/g spec.servers[0].tls.verifyCertificateHash[0]: \"abc\" is not a hex SHA-256 fingerprint [ZM_INVALID_RESOURCE]" },
  { name: "VS without routes", yaml: VS(`hosts: [a]`), error: "input.yaml#1 VirtualService/ns/v spec: must have at least one http, tls or tcp route [ZM_INVALID_RESOURCE]" },
  { name: "SE wildcard with DNS", yaml: SE(`hosts: ["*.example.com"]\nresolution: DNS\nports: [{number: 443, name: tls, protocol: TLS}]`), error: "input.yaml#1 ServiceEntry/ns/e spec.hosts[0]: wildcard host \"*.example.com\" cannot be resolved by DNS without endpoints [ZM_INVALID_RESOURCE]" },
  { name: "SE bad resolution", yaml: SE(`hosts: [a.com]\nresolution: MAGIC\nports: [{number: 443, name: tls, protocol: TLS}]`), error: "input.yaml#1 ServiceEntry/ns/e spec.resolution: must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS, got \"MAGIC\" [ZM_INVALID_RESOURCE]" },
  { name: "SE bad address", yaml: SE(`hosts: [a.com]\naddresses: ["1.2.3"]\nports: [{number: 443, name: tls, protocol: TLS}]`), error: "input.yaml#1 ServiceEntry/ns/e spec.addresses[0]: \"1.2.3\" is not an IP address or CIDR block [ZM_INVALID_RESOURCE]" },
  { name: "DR outlier ejection time not a duration", yaml: DR(`host: a\ntrafficPolicy: {outlierDetection: {baseEjectionTime: 30}}`), error: "input.yaml#1 DestinationRule/ns/d spec.trafficPolicy.outlierDetection.baseEjectionTime: must be a string, got number 30 [ZM_INVALID_RESOURCE]" },
  { name: "DR outlier percent over 100", yaml: DR(`host: a\ntrafficPolicy: {outlierDetection: {maxEjectionPercent: 150}}`), error: "input.yaml#1 DestinationRule/ns/d spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be between 0 and 100, got 150 [ZM_INVALID_RESOURCE]" },
  { name: "DR connection pool with a field Istio does not have", yaml: DR(`host: a\ntrafficPolicy: {connectionPool: {http: {maxPending: 1}}}`), error: "input.yaml#1 DestinationRule/ns/d spec.trafficPolicy.connectionPool.http.maxPending: unknown field \"maxPending\" [ZM_INVALID_RESOURCE]" },
  { name: "DR unknown TLS mode", yaml: DR(`host: a\ntrafficPolicy: {tls: {mode: SOMETIMES}}`), error: "input.yaml#1 DestinationRule/ns/d spec.trafficPolicy.tls.mode: must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL, got \"SOMETIMES\" [ZM_INVALID_RESOURCE]" },
  { name: "bad name", yaml: `apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_Name}`, error: "input.yaml#1 Namespace/Bad_Name metadata.name: \"Bad_Name\" is not a valid name (lower-case DNS subdomain) [ZM_INVALID_RESOURCE]" },
  // RequestAuthentication (validateJwtRule, the CRD's rules).
  { name: "RA rule without issuer or jwksUri", yaml: RA(`jwtRules: [{jwks: '{"keys": [{"kty": "EC"}]}'}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0]: issuer or jwksUri must be non-empty string [ZM_INVALID_RESOURCE]" },
  { name: "RA jwksUri not a URL", yaml: RA(`jwtRules: [{issuer: i, jwksUri: "not a url"}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].jwksUri: \"not a url\" must be an http(s) URL with a host [ZM_INVALID_RESOURCE]" },
  { name: "RA jwks not a key set", yaml: RA(`jwtRules: [{issuer: i, jwks: '{"keys": []}'}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].jwks: must be a JSON Web Key Set with a non-empty \"keys\" list [ZM_INVALID_RESOURCE]" },
  { name: "RA jwks not JSON", yaml: RA(`jwtRules: [{issuer: i, jwks: 'keys'}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].jwks: must be a JSON Web Key Set: Unexpected token 'k', \"keys\" is not valid JSON [ZM_INVALID_RESOURCE]" },
  { name: "RA empty audience", yaml: RA(`jwtRules: [{issuer: i, audiences: [""]}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].audiences[0]: must not be empty [ZM_INVALID_RESOURCE]" },
  { name: "RA header location without a name", yaml: RA(`jwtRules: [{issuer: i, fromHeaders: [{prefix: "Bearer "}]}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].fromHeaders[0].name: is required [ZM_INVALID_RESOURCE]" },
  { name: "RA empty param", yaml: RA(`jwtRules: [{issuer: i, fromParams: [""]}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].fromParams[0]: must not be empty [ZM_INVALID_RESOURCE]" },
  { name: "RA claim header not a header name", yaml: RA(`jwtRules: [{issuer: i, outputClaimToHeaders: [{header: "x y", claim: sub}]}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].outputClaimToHeaders[0].header: \"x y\" is not a valid header name (letters, digits, \"-\" and \"_\") [ZM_INVALID_RESOURCE]" },
  { name: "RA claim header without claim", yaml: RA(`jwtRules: [{issuer: i, outputClaimToHeaders: [{header: x-sub}]}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].outputClaimToHeaders[0].claim: is required [ZM_INVALID_RESOURCE]" },
  { name: "RA payload header not a header name", yaml: RA(`jwtRules: [{issuer: i, outputPayloadToHeader: "a:b"}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].outputPayloadToHeader: \"a:b\" is not a valid header name [ZM_INVALID_RESOURCE]" },
  { name: "RA selector and targetRef", yaml: RA(`selector: {matchLabels: {a: b}}\ntargetRef: {kind: Service, name: s}`), error: "input.yaml#1 RequestAuthentication/ns/ra spec: only one of targetRefs or selector can be set [ZM_INVALID_RESOURCE]" },
  { name: "RA unknown field", yaml: RA(`jwtRules: [{issuer: i, jwksUrl: "https://x"}]`), error: "input.yaml#1 RequestAuthentication/ns/ra spec.jwtRules[0].jwksUrl: unknown field \"jwksUrl\" [ZM_INVALID_RESOURCE]" },
  { name: "wrong apiVersion", yaml: `apiVersion: networking.istio.io/v2\nkind: Gateway\nmetadata: {name: g}\nspec: {}`, error: "input.yaml#1 Gateway/g apiVersion: Gateway must have apiVersion networking.istio.io/v1 or networking.istio.io/v1beta1 or networking.istio.io/v1alpha3, got \"networking.istio.io/v2\" [ZM_INVALID_RESOURCE]" },
  { name: "YAML syntax error", yaml: `apiVersion: v1\nkind: Namespace\nmetadata: {name: a\n`, error: "input.yaml#1: YAML syntax error at line 4, column 1: Flow map in block collection must be sufficiently indented and end with a } [ZM_YAML_SYNTAX]" },
  { name: "duplicate names in one apply", yaml: `apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}`, error: "input.yaml#2 Namespace/a: defined twice in one apply (first at input.yaml#1) [ZM_DUPLICATE_RESOURCE]" },
];

for (const c of invalid) {
  test(`validation rejects: ${c.name}`, () => {
    const errors = issuesOf(c.yaml).filter((l) => !l.includes(": warning: "));
    assert.deepEqual(errors, [c.error]);
  });
}

test("validation: an unknown kind is a warning, not an error", () => {
  assert.deepEqual(issuesOf(`apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: ns}`), [
    "input.yaml#1 Widget/ns/w: warning: kind example.com/v1/Widget is not handled by zeromesh; ignored [ZM_UNKNOWN_KIND]",
  ]);
});

test("validation: a kind Istio's API groups do not have is an error, with the nearest one; Istio's own kinds zeromesh skips are warnings", () => {
  assert.deepEqual(issuesOf(`apiVersion: networking.istio.io/v1\nkind: VirtualServce\nmetadata: {name: v, namespace: ns}\nspec: {hosts: [a]}`), [
    "input.yaml#1 VirtualServce/ns/v: networking.istio.io/v1 has no kind VirtualServce (did you mean VirtualService?) [ZM_UNKNOWN_KIND]",
  ]);
  assert.deepEqual(issuesOf(`apiVersion: security.istio.io/v1\nkind: Widget\nmetadata: {name: w, namespace: ns}`), ["input.yaml#1 Widget/ns/w: security.istio.io/v1 has no kind Widget [ZM_UNKNOWN_KIND]"]);
  assert.deepEqual(issuesOf(`apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: f, namespace: ns}\nspec: {}`), [
    "input.yaml#1 EnvoyFilter/ns/f: warning: kind networking.istio.io/v1alpha3/EnvoyFilter is not handled by zeromesh; ignored [ZM_UNKNOWN_KIND]",
  ]);
});

test("validation: typed Lists are read as List (kubectl get -o yaml)", () => {
  const list = `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicyList\nitems:\n- ${AP("action: DENY\nrules: [{to: [{operation: {methods: [7]}}]}]").replace(/\n/g, "\n  ")}`;
  assert.deepEqual(issuesOf(list), ["input.yaml#1 AuthorizationPolicy/ns/p spec.rules[0].to[0].operation.methods[0]: must be a string, got number 7 [ZM_INVALID_RESOURCE]"]);
  assert.deepEqual(issuesOf(`apiVersion: v1\nkind: ServiceList\nitems: [{apiVersion: v1, kind: Service, metadata: {name: s, namespace: ns}, spec: {ports: [{port: 80}]}}]`), []);
});

test("validation: meshConfig is proto3 JSON, as Istio reads it: an integer may be written as a string", () => {
  const issues: import("./errors.js").Issue[] = [];
  const mesh = mergeMeshConfig(DEFAULT_MESH, { extensionProviders: [{ name: "ext", envoyExtAuthzHttp: { service: "a.b.svc.cluster.local", port: "9000" } }] }, { file: "mesh", doc: 1 }, issues);
  assert.deepEqual(issues, []);
  assert.equal(mesh.extensionProviders?.[0]?.port, 9000);
  const bad: import("./errors.js").Issue[] = [];
  mergeMeshConfig(DEFAULT_MESH, { extensionProviders: [{ name: "ext", envoyExtAuthzHttp: { service: "a", port: "nine" } }] }, { file: "mesh", doc: 1 }, bad);
  assert.match(bad.map((i) => i.message).join(), /must be an integer, got string "nine"/);
});

/** meshConfig extension providers, checked as Istio's validateExtensionProviderEnvoyExtAuthz{Http,Grpc}. */
const providerCases: { name: string; provider: unknown; error?: RegExp }[] = [
  { name: "a full HTTP provider", provider: { name: "h", envoyExtAuthzHttp: { service: "ns/authz.ns.svc.cluster.local", port: 8000, timeout: "2s", pathPrefix: "/check", failOpen: true, statusOnError: "503", includeRequestHeadersInCheck: ["x-a"], includeAdditionalHeadersInCheck: { "x-b": "1" }, headersToUpstreamOnAllow: ["x-c"], headersToDownstreamOnDeny: ["x-d"], headersToDownstreamOnAllow: ["x-e"], includeRequestBodyInCheck: { maxRequestBytes: 100, allowPartialMessage: true } } } },
  { name: "a gRPC provider", provider: { name: "g", envoyExtAuthzGrpc: { service: "authz.ns.svc.cluster.local", port: "9000" } } },
  { name: "without a service", provider: { name: "x", envoyExtAuthzHttp: { port: 1 } }, error: /service: is required/ },
  { name: "without a port", provider: { name: "x", envoyExtAuthzGrpc: { service: "a" } }, error: /port: is required/ },
  { name: "a port out of range", provider: { name: "x", envoyExtAuthzGrpc: { service: "a", port: 70000 } }, error: /port: must be between 1 and 65535/ },
  { name: "a pathPrefix without a slash", provider: { name: "x", envoyExtAuthzHttp: { service: "a", port: 1, pathPrefix: "check" } }, error: /pathPrefix: must start with "\/"/ },
  { name: "a statusOnError that is not a status", provider: { name: "x", envoyExtAuthzHttp: { service: "a", port: 1, statusOnError: "abc" } }, error: /statusOnError: "abc" is not an HTTP status code/ },
  { name: "a zero timeout", provider: { name: "x", envoyExtAuthzHttp: { service: "a", port: 1, timeout: "0s" } }, error: /timeout: must be greater than 0/ },
  { name: "an HTTP-only field on a gRPC provider", provider: { name: "x", envoyExtAuthzGrpc: { service: "a", port: 1, pathPrefix: "/x" } }, error: /pathPrefix: unknown field/ },
];
for (const c of providerCases) {
  test(`validation: meshConfig extensionProviders: ${c.name}`, () => {
    const issues: import("./errors.js").Issue[] = [];
    mergeMeshConfig(DEFAULT_MESH, { extensionProviders: [c.provider] }, { file: "mesh", doc: 1 }, issues);
    if (c.error) assert.match(issues.map((i) => `${i.at.path}: ${i.message}`).join("\n"), c.error);
    else assert.deepEqual(issues, []);
  });
}

test("validation: unknown cipher suites are warned about and dropped, as Istio does", () => {
  assert.deepEqual(issuesOf(GW(SERVER.replace("credentialName: c}", "credentialName: c, cipherSuites: [NOPE-CIPHER]}"))), [
    "input.yaml#1 Gateway/ns/g spec.servers[0].tls.cipherSuites[0]: warning: ignoring invalid cipher suite \"NOPE-CIPHER\" [ZM_INVALID_RESOURCE]",
    "input.yaml#1 Gateway/ns/g spec.servers[0].tls.cipherSuites: warning: none of the cipher suites is supported; the defaults apply (use OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256) [ZM_INVALID_RESOURCE]",
  ]);
});

test("validation: the second document is named by its index", () => {
  const errors = issuesOf(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n${GW(SERVER.replace("SIMPLE", "SIMPLEST"))}`, "gateway.yaml");
  assert.match(errors[0]!, /^gateway\.yaml#2 Gateway\/ns\/g spec\.servers\[0\]\.tls\.mode: must be one of/);
});

test("validation: every seed-style resource is accepted", () => {
  const yaml = [
    GW(SERVER), AP(`action: DENY\nrules: [{from: [{source: {namespaces: ["test"]}}]}]`), AP(`{}`).replace("name: p", "name: nothing"),
    SC(`egress: [{hosts: ["./*", "istio-system/*", "entries/www.google.com"]}]`), PA(`mtls: {mode: STRICT}`),
    VS(`hosts: ["*"]\ngateways: [gw]\ntcp: [{match: [{port: 31400}], route: [{destination: {host: echo, port: {number: 2701}}}]}]`),
    SE(`hosts: [www.google.com]\nports: [{number: 443, name: https, protocol: TLS}]\nlocation: MESH_EXTERNAL\nresolution: DNS`),
  ].join("\n---\n");
  assert.deepEqual(issuesOf(yaml), []);
});

test("validation: -n puts objects without a namespace there, and refuses one that names another (kubectl apply -n)", async () => {
  const { parseTexts } = await import("../store/apply.js");
  const yaml = `apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n${AP("{}").replace("namespace: ns", "").replace("metadata: {name: p, }", "metadata: {name: p}")}\n---\n${PA("mtls: {mode: STRICT}")}`;
  const r = parseTexts([{ text: yaml, file: "in.yaml" }], DEFAULT_MESH, "shop");
  assert.deepEqual(r.issues.filter((i) => i.severity === "error").map((i) => `${i.at.path}: ${i.message}`), [
    'metadata.namespace: the namespace from the provided object "ns" does not match the namespace "shop"; pass --namespace=ns to apply it',
  ]);
  assert.deepEqual(r.resources.map((x) => `${x.kind}/${x.meta.namespace}/${x.meta.name}`), ["Namespace//shop", "AuthorizationPolicy/shop/p"]);
});
