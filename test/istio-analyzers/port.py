#!/usr/bin/env python3
"""Ports Istio's analyzer (`istioctl analyze`) test table and message catalogue into zeromesh test data.

  python3 test/istio-analyzers/port.py [ISTIO_CHECKOUT]

ISTIO_CHECKOUT is a clone (or bare git directory) of github.com/istio/istio; it defaults to the local mirror
/work/.mirror/istio+istio/repo. Sources (read at HEAD):
  - pkg/config/analysis/msg/messages.yaml             -> messages.json (the message catalogue)
  - pkg/config/analysis/analyzers/analyzers_test.go   -> cases.json (the `testGrid` table)
  - pkg/config/analysis/analyzers/multicluster_analyzers_test.go (`mcTestGrid`) -> appended to cases.json
  - pkg/config/analysis/analyzers/testdata/**         -> inlined verbatim as inputFiles[].text
  - each analyzer's Metadata() in pkg/config/analysis/analyzers/<pkg>/*.go -> cases[].analyzerName
  - ANALYZER_DATA below (hand table, from reading the analyzers) -> cases[].needs: "yaml" | "workloads" | "live"
  - pkg/config/analysis/local/defaults.go + pkg/config/mesh/mesh.go -> harness.json (what the Go test
    harness adds around every case: default ingress gateway pod/service, istio namespace, ignored namespaces)

The Go tables are struct literals; a small tokenizer/parser reads them. The parser fails loudly on any
construct it does not know. Cases it cannot read would go in HAND below (currently none is needed).
"""
import json, os, re, subprocess, sys

ISTIO = sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/istio+istio/repo"
OUT = os.path.dirname(os.path.abspath(__file__))
ADIR = "pkg/config/analysis/analyzers"


def show(path):
    """A file of the checkout, from a work tree or a bare repository."""
    if os.path.exists(os.path.join(ISTIO, path)):
        return open(os.path.join(ISTIO, path)).read()
    return subprocess.run(["git", "--git-dir", ISTIO, "show", f"HEAD:{path}"],
                          capture_output=True, text=True, check=True).stdout


def ls(path):
    out = subprocess.run(["git", "--git-dir", ISTIO, "ls-tree", "--name-only", f"HEAD:{path}"],
                         capture_output=True, text=True)
    if out.returncode == 0:
        return out.stdout.split()
    return sorted(os.listdir(os.path.join(ISTIO, path)))


def head_commit():
    out = subprocess.run(["git", "--git-dir", ISTIO, "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


# ---------------------------------------------------------------- messages.yaml
def parse_messages(text):
    """messages.yaml is a flat list; every scalar we need is either a double-quoted string or a bare word."""
    def scalar(v):
        v = v.strip()
        if v.startswith('"'):
            return json.loads(v)   # YAML double-quoted == JSON string for the escapes used here
        if v.startswith("'"):
            return v[1:-1].replace("''", "'")
        return v
    msgs, cur, in_args = [], None, False
    for line in text.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r'^  - name:\s*(.*)$', line)
        if m:
            cur = {"name": scalar(m.group(1)), "code": None, "level": None, "template": None, "args": []}
            msgs.append(cur); in_args = False
            continue
        m = re.match(r'^ {4,}- name:\s*(.*)$', line)     # args items are indented 4 or 6 spaces
        if m and in_args:
            cur["args"].append(scalar(m.group(1)))
            continue
        m = re.match(r'^ {6,}type:\s*(.*)$', line)
        if m and in_args:
            continue
        m = re.match(r'^    (\w+):\s*(.*)$', line)
        if m and cur is not None:
            k, v = m.groups()
            in_args = (k == "args")
            if k in ("code", "level", "template"):
                cur[k] = scalar(v)
            continue
        if line.startswith("messages:"):
            continue
        raise SystemExit(f"messages.yaml: unexpected line {line!r}")
    return msgs


messages = parse_messages(show("pkg/config/analysis/msg/messages.yaml"))
# cross-check against the generated Go file (level, code and template must agree)
gen = show("pkg/config/analysis/msg/messages.gen.go")
gen_map = {m.group(1): (m.group(2), m.group(3), json.loads(m.group(4))) for m in re.finditer(
    r'^\t(\w+) = diag\.NewMessageType\(diag\.(\w+), "(IST\d+)", ("(?:[^"\\]|\\.)*")\)', gen, re.M)}
for m in messages:
    assert m["level"] in ("Error", "Warning", "Info"), m
    assert re.match(r'^IST\d{4}$', m["code"]), m
    g = gen_map.get(m["name"])
    assert g == (m["level"], m["code"], m["template"]), (m["name"], g)
    n_verbs = len(re.findall(r'%[^%]', m["template"].replace("%%", "")))
    assert n_verbs == len(m["args"]), (m["name"], n_verbs, m["args"])
assert len(gen_map) == len(messages), (len(gen_map), len(messages))
json.dump(messages, open(os.path.join(OUT, "messages.json"), "w"), indent=1, ensure_ascii=False)
open(os.path.join(OUT, "messages.json"), "a").write("\n")
BY_NAME = {m["name"]: m for m in messages}
print("messages:", len(messages))


# ---------------------------------------------------------------- Go literal parser
TOK = re.compile(r'''\s*(?:(//[^\n]*|/\*.*?\*/)|("(?:[^"\\\n]|\\.)*")|(`[^`]*`)|([{}\[\](),:&*+.])|([A-Za-z_][A-Za-z0-9_]*)|(\d+))''', re.S)
COMMENT, STR, RAW, PUNCT, IDENT, NUM = range(1, 7)


def tokenize(s, base_line):
    """Yields (kind, text, line) lazily, so a caller can stop at the end of a literal."""
    i = 0
    while i < len(s):
        m = TOK.match(s, i)
        if not m:
            if not s[i:].strip():
                return
            raise SystemExit(f"cannot tokenize at {s[i:i+40]!r}")
        for k, g in enumerate(m.groups(), 1):
            if g is not None:
                yield (k, g, base_line + s.count("\n", 0, m.start(k)))
                break
        i = m.end()


class Unparsed(Exception):
    pass


class Parser:
    """Reads the composite literals used by the analyzer test tables."""

    def __init__(self, toks):
        self.t, self.i = toks, 0
        self.comments = []

    def peek(self):
        while self.i < len(self.t) and self.t[self.i][0] == COMMENT:
            self.comments.append(self.t[self.i][1][2:].strip()); self.i += 1
        return self.t[self.i] if self.i < len(self.t) else (0, None, 0)

    def next(self):
        tok = self.peek(); self.i += 1; return tok

    def expect(self, v):
        k, g, line = self.next()
        if g != v:
            raise Unparsed(f"line {line}: expected {v!r}, got {g!r}")

    def qualified(self):
        k, g, line = self.next()
        if k != IDENT:
            raise Unparsed(f"line {line}: expected identifier, got {g!r}")
        name = g
        while self.peek()[1] == ".":
            self.next(); name += "." + self.next()[1]
        return name

    def value(self):
        k, g, line = self.peek()
        if k == STR:
            self.next(); return json.loads(g)
        if k == RAW:
            self.next(); return g[1:-1]
        if g in ("true", "false"):
            self.next(); return g == "true"
        if g == "&":            # &pkg.Type{}
            self.next(); tn = self.qualified(); self.expect("{"); self.expect("}")
            return {"go": "new", "type": tn}
        if g == "[":            # []string{...} / []message{...}
            self.next(); self.expect("]"); tn = self.qualified(); self.expect("{")
            items = []
            while self.peek()[1] != "}":
                items.append(self.message() if tn == "message" else self.value())
                if self.peek()[1] == ",":
                    self.next()
            self.next()
            return items
        if k == IDENT:          # pkg.Func(pkg.Arg)
            tn = self.qualified()
            if self.peek()[1] == "(":
                self.next(); arg = self.qualified(); self.expect(")")
                return {"go": "call", "func": tn, "arg": arg}
            raise Unparsed(f"line {line}: bare identifier {tn}")
        raise Unparsed(f"line {line}: unknown value {g!r}")

    def message(self):          # {msg.Name, "origin"}
        self.expect("{")
        typ = self.qualified()
        self.expect(",")
        k, origin, line = self.next()
        if k != STR:
            raise Unparsed(f"line {line}: message origin is not a string literal")
        if self.peek()[1] == ",":
            self.next()
        self.expect("}")
        if not typ.startswith("msg."):
            raise Unparsed(f"line {line}: message type {typ}")
        return {"type": typ[4:], "origin": json.loads(origin)}

    def struct(self):
        """One `{ field: value, ... }` table entry -> (fields, comments, first line)."""
        self.comments = []
        _, _, line = self.peek()
        self.expect("{")
        fields = {}
        while self.peek()[1] != "}":
            k, name, fl = self.next()
            if k != IDENT:
                raise Unparsed(f"line {fl}: field name expected, got {name!r}")
            self.expect(":")
            fields[name] = self.value()
            if self.peek()[1] == ",":
                self.next()
        self.peek(); self.next()
        return fields, list(self.comments), line


def table_entries(src, var):
    """Split the `var <var> = []T{ ... }` literal into its top-level entries (token lists), each parsed
    on its own so one odd entry cannot break the others."""
    m = re.search(r'^var ' + var + r' = \[\]\w+\{\n', src, re.M)
    start = m.end()
    depth, entries, estart = 0, [], None
    toks = []
    for idx, (k, g, line) in enumerate(tokenize(src[start:], src.count("\n", 0, start) + 1)):
        toks.append((k, g, line))
        if k == PUNCT and g in "{[(":
            if depth == 0 and g == "{":
                estart = idx
            depth += 1
        elif k == PUNCT and g in "}])":
            if depth == 0:
                break                      # the closing brace of the table
            depth -= 1
            if depth == 0:
                entries.append(toks[estart:idx + 1])
    return entries


# ---------------------------------------------------------------- analyzer metadata from source
test_src = show(f"{ADIR}/analyzers_test.go")
mc_src = show(f"{ADIR}/multicluster_analyzers_test.go")


def import_aliases(src):
    al = {}
    for m in re.finditer(r'^\t(?:(\w+) )?"istio\.io/istio/(pkg/config/analysis/analyzers/[\w/]+)"', src, re.M):
        alias = m.group(1) or m.group(2).split("/")[-1]
        al[alias] = m.group(2)
    return al


ALIASES = {**import_aliases(test_src), **import_aliases(mc_src)}
_pkg_cache = {}


def pkg_sources(pkgdir):
    if pkgdir not in _pkg_cache:
        _pkg_cache[pkgdir] = {f: show(f"{pkgdir}/{f}") for f in ls(pkgdir)
                              if f.endswith(".go") and not f.endswith("_test.go")}
    return _pkg_cache[pkgdir]


def metadata_name(pkg_alias, typ, ctor_arg=None):
    """The string the analyzer's Metadata() returns as Name (and the file it is in)."""
    pkgdir = ALIASES[pkg_alias]
    for fn, src in pkg_sources(pkgdir).items():
        m = re.search(r'^func \(\w* ?\*?' + typ + r'\) Metadata\(\) analysis\.Metadata \{', src, re.M)
        if not m:
            continue
        n = re.search(r'\bName:\s*("(?:[^"\\]|\\.)*")(\s*\+\s*a\.s\.Kind\(\))?,', src[m.end():])
        name = json.loads(n.group(1))
        if n.group(2):        # schema.ValidationAnalyzer: "schema.ValidationAnalyzer." + <collection kind>
            if not ctor_arg or not ctor_arg.startswith("collections."):
                raise SystemExit(f"{typ}: Name depends on a collection, none given")
            name += ctor_arg.split(".", 1)[1]
        return name, f"{pkgdir}/{fn}"
    raise SystemExit(f"no Metadata() for {pkg_alias}.{typ}")


def analyzer_of(v):
    """(as written in the Go table, Metadata().Name, source file, extra note)"""
    if v.get("go") == "new":
        alias, typ = v["type"].split(".")
        name, f = metadata_name(alias, typ)
        return v["type"], name, f, None
    if v.get("go") == "call" and v["func"] == "schemaValidation.CollectionValidationAnalyzer":
        name, f = metadata_name("schemaValidation", "ValidationAnalyzer", v["arg"])
        return (f"schemaValidation.CollectionValidationAnalyzer({v['arg']})", name, f,
                f"analyzer is the schema ValidationAnalyzer built for {v['arg']} (runs Istio's own validation "
                "of that kind; only its analysis-aware VirtualService findings are expected here)")
    raise Unparsed(f"analyzer expression {v}")


# names registered by All() (and AllMultiCluster()), to flag cases the Go suite runs outside All()
all_src = show(f"{ADIR}/all.go")
def registered(fn):
    body = re.search(r'^func ' + fn + r'\(\) \[\]analysis\.Analyzer \{(.*?)^\}', all_src, re.M | re.S).group(1)
    return [metadata_name(*t.split("."))[0] for t in re.findall(r'&(\w+\.\w+)\{\}', body)]
IN_ALL = set(registered("All"))
MULTICLUSTER = set(registered("AllMultiCluster"))


# ---------------------------------------------------------------- per-analyzer notes (hand table)
# needs: "yaml"      - works on configuration files alone;
#        "workloads" - also needs running Pods/Nodes/Secrets (the Go tests feed them as YAML; a files-only
#                      `istioctl analyze` would normally not have them);
#        "live"      - needs state only a live cluster has (injector ConfigMaps, webhook configurations,
#                      installed CRDs, status written by controllers, remote-cluster secrets, several clusters).
# Written by reading each analyzer's source at the mirrored commit.
ANALYZER_DATA = {
    "annotations.K8sAnalyzer": ("yaml", None),
    "annotations.AlphaAnalyzer": ("yaml", None),
    "authn.BlockedCIDRsAnalyzer": ("live", "looks for the istiod Deployment (label app=istiod) and its env"),
    "auth.AuthorizationPoliciesAnalyzer": ("workloads", "matches selectors against Pods; namespace references against Namespaces; reads mesh config rootNamespace"),
    "conditions.ConditionAnalyzer": ("live", "reads .status conditions written by controllers (inputs carry a status block)"),
    "deployment.MultiServiceAnalyzer": ("yaml", None),
    "applicationUID.Analyzer": ("yaml", None),
    "destinationrule.CaCertificateAnalyzer": ("yaml", None),
    "destinationrule.SubsetSelectPodAnalyzer": ("workloads", "subset labels are matched against Pods augmented with their Node's topology labels"),
    "deprecation.DeprecationAnalyzer": ("yaml", "the removed-CRD check needs installed CustomResourceDefinitions"),
    "envoyfilter.EnvoyPatchAnalyzer": ("yaml", None),
    "externalcontrolplane.ExternalControlPlaneAnalyzer": ("live", "inspects Istio's Validating/MutatingWebhookConfigurations"),
    "gateway.IngressGatewayPortAnalyzer": ("workloads", "needs gateway Pods and their Services (the harness adds a default istio-ingressgateway pod/service, see harness.json)"),
    "gateway.CertificateAnalyzer": ("yaml", "result depends on PILOT_SCOPE_GATEWAY_TO_NAMESPACE (default false; the Go test runs with the default)"),
    "gateway.SecretAnalyzer": ("workloads", "needs gateway Pods (for the namespace of the gateway workload) and TLS Secrets"),
    "gateway.ConflictingGatewayAnalyzer": ("workloads", "needs gateway Pods (the harness adds a default istio-ingressgateway pod, see harness.json)"),
    "injection.Analyzer": ("live", "reads Namespace injection labels, Pods and the istio-sidecar-injector ConfigMap"),
    "injection.ImageAnalyzer": ("live", "compares Pods' istio-proxy images with the istio-sidecar-injector ConfigMap(s)"),
    "injection.ImageAutoAnalyzer": ("live", "needs the injector MutatingWebhookConfigurations (the Pod 'image: auto' check works on YAML)"),
    "k8sgateway.SelectorAnalyzer": ("workloads", "needs the Pods deployed for Gateway API gateways"),
    "k8sgateway.CRDVersionAnalyzer": ("live", "reads installed Gateway API CustomResourceDefinitions and their bundle-version annotation"),
    "meshnetworks.MeshNetworksAnalyzer": ("live", "needs meshNetworks and the remote-cluster Secrets (label istio/multiCluster=true)"),
    "services.MultiClusterServiceAnalyzer": ("live", "needs Services from two clusters"),
    "service.PortNameAnalyzer": ("yaml", None),
    "sidecar.SelectorAnalyzer": ("workloads", "selector checks need Pods (the several-default-Sidecars check works on YAML)"),
    "virtualservice.ConflictingMeshGatewayHostsAnalyzer": ("yaml", None),
    "virtualservice.DestinationHostAnalyzer": ("yaml", None),
    "virtualservice.DestinationRuleAnalyzer": ("yaml", None),
    "virtualservice.GatewayAnalyzer": ("yaml", None),
    "virtualservice.JWTClaimRouteAnalyzer": ("workloads", "needs the gateway Pods the Gateway selects"),
    "serviceentry.Analyzer": ("yaml", "also reads mesh config proxyMetadata and a ServiceEntry's status.addresses"),
    "serviceentry.ConflictingServiceEntryProtocolAnalyzer": ("yaml", None),
    "webhook.Analyzer": ("live", "inspects MutatingWebhookConfigurations and the Services they call"),
    "telemetry.ProviderAnalyzer": ("yaml", "also reads mesh config defaultProviders"),
    "telemetry.SelectorAnalyzer": ("workloads", "needs Pods to evaluate workload selectors"),
    "telemetry.DefaultSelectorAnalyzer": ("yaml", None),
    "telemetry.LightstepAnalyzer": ("yaml", "also reads mesh config extensionProviders"),
}


def analyzer_data(name):
    if name.startswith("schema.ValidationAnalyzer."):
        return ("yaml", None)
    if name not in ANALYZER_DATA:
        raise SystemExit(f"analyzer {name} missing from ANALYZER_DATA; classify it")
    needs, note = ANALYZER_DATA[name]
    if name == "k8sgateway.CRDVersionAnalyzer":
        mins = re.findall(r'"([\w.]+)":\s*semver\.New\((\d+), (\d+), (\d+)',
                          show("pkg/config/schema/gatewayapi/minimumversions.go"))
        note += "; minimum bundle versions at this commit: " + ", ".join(f"{n} {a}.{b}.{c}" for n, a, b, c in mins)
    return needs, note


# Cases that the parser cannot read would be listed here, keyed by (table, index): a dict with the same
# fields as a parsed entry. None is needed for the current Istio HEAD.
HAND = {}


def case_from(fields, comments, line, table, index, srcfile):
    notes = []
    a_go, a_name, a_file, a_note = analyzer_of(fields["analyzer"])
    if a_note:
        notes.append(a_note)
    if fields.get("skipAll"):
        notes.append("skipAll: the analyzer is not registered in All(); the Go suite only skips the "
                     "'registered in All()' check for it")
    if a_name not in IN_ALL and not a_name.startswith("schema.ValidationAnalyzer.") and not fields.get("skipAll"):
        notes.append("analyzer is not in All()")
    needs, a_data_note = analyzer_data(a_name)
    if a_data_note:
        notes.append(f"{needs}: {a_data_note}")
    def files(key, cluster=None):
        out = []
        for p in fields.get(key, []):
            f = {"path": p, "text": show(f"{ADIR}/{p}")}
            if cluster:
                f["cluster"] = cluster
            out.append(f)
        return out
    if table == "mcTestGrid":
        inputs = files("cluster1InputFiles", "cluster1") + files("cluster2InputFiles", "cluster2")
        notes.append("multicluster: each inputFile belongs to the cluster named in its 'cluster' field; the Go "
                     "harness loads each cluster into its own store and runs all multi-cluster analyzers "
                     "(AllMultiCluster), not only this one")
    else:
        inputs = files("inputFiles")
    mc = fields.get("meshConfigFile")
    mn = fields.get("meshNetworksFile")
    if mc:
        notes.append("meshConfigFile is applied on top of Istio's default MeshConfig (ApplyMeshConfigDefaults)")
    if mn:
        notes.append("meshNetworksFile replaces the default (empty) MeshNetworks")
    for c in comments:
        notes.append("Go table comment: " + c)
    expected = []
    for e in fields.get("expected", []):
        m = BY_NAME.get(e["type"])
        if not m:
            raise SystemExit(f"{srcfile}:{line}: unknown message {e['type']}")
        expected.append({"code": m["code"], "messageName": e["type"], "resource": e["origin"]})
    known = {"name", "inputFiles", "cluster1InputFiles", "cluster2InputFiles", "meshConfigFile",
             "meshNetworksFile", "analyzer", "expected", "skipAll"}
    extra = set(fields) - known
    if extra:
        raise SystemExit(f"{srcfile}:{line}: unknown fields {extra}")
    return {
        "name": fields["name"],
        "source": f"{srcfile}:{line}",
        "analyzer": a_go,
        "analyzerName": a_name,
        "analyzerSource": a_file,
        "inputFiles": inputs,
        "meshConfigFile": show(f"{ADIR}/{mc}") if mc else None,
        "meshConfigPath": mc or None,
        "meshNetworksFile": show(f"{ADIR}/{mn}") if mn else None,
        "meshNetworksPath": mn or None,
        "expected": expected,
        "needs": needs,
        "skipAll": bool(fields.get("skipAll")),
        "multicluster": table == "mcTestGrid",
        "notes": notes,
    }


cases, hand_used = [], []
for table, src, srcfile in (("testGrid", test_src, f"{ADIR}/analyzers_test.go"),
                            ("mcTestGrid", mc_src, f"{ADIR}/multicluster_analyzers_test.go")):
    for index, toks in enumerate(table_entries(src, table)):
        try:
            fields, comments, line = Parser(toks).struct()
        except Unparsed as e:
            if (table, index) not in HAND:
                raise SystemExit(f"{srcfile}: entry {index} not parsed ({e}); add it to HAND")
            fields, comments, line = HAND[(table, index)], [], toks[0][2]
            hand_used.append((table, index))
        c = case_from(fields, comments, line, table, index, srcfile)
        if (table, index) in hand_used:
            c["notes"].append("entry written by hand in port.py (HAND): the parser could not read it")
        cases.append(c)

# same-name cases (the Go table reuses some names)
seen = {}
for i, c in enumerate(cases):
    seen.setdefault(c["name"], []).append(i)
for name, idx in seen.items():
    if len(idx) > 1:
        for k, i in enumerate(idx):
            cases[i]["notes"].append(f"name shared by {len(idx)} cases in the Go table (this is occurrence {k+1})")

json.dump(cases, open(os.path.join(OUT, "cases.json"), "w"), indent=1, ensure_ascii=False)
open(os.path.join(OUT, "cases.json"), "a").write("\n")
print("cases:", len(cases), "expected messages:", sum(len(c["expected"]) for c in cases),
      "hand-written:", len(hand_used))


# ---------------------------------------------------------------- harness facts
defaults_go = show("pkg/config/analysis/local/defaults.go")
tmpl = re.search(r'const defaultIstioIngressGateway = `(.*?)`', defaults_go, re.S).group(1)
mesh_go = show("pkg/config/mesh/mesh.go")
ingress_service = re.search(r'IngressService:\s*"([^"]*)"', mesh_go).group(1)
ingress_mode = re.search(r'IngressControllerMode:\s*meshconfig\.MeshConfig_(\w+)', mesh_go).group(1)
test_ns = re.search(r'NewSourceAnalyzer\(analysis\.Combine\("testCase", tc\.analyzer\), "([^"]*)", "([^"]*)"', test_src)
def ignored_namespaces():
    init = show("pkg/kube/inject/initializer.go")
    consts = show("pkg/config/constants/constants.go")
    names = re.search(r'IgnoredNamespaces = sets\.New\((.*?)\)', init, re.S).group(1)
    return [re.search(r'\b' + c + r' string = "([^"]*)"', consts).group(1)
            for c in re.findall(r'constants\.(\w+)', names)]


harness = {
    "istioCommit": head_commit(),
    "istioNamespace": test_ns.group(2),
    "defaultNamespace": test_ns.group(1),
    "matching": "expected is a multiset: the produced messages must equal it ignoring order, duplicates "
                "significant; each message is compared by message type and resource origin only "
                "(origin = '<Kind> <namespace>/<name>', or '<Kind> <name>' when the YAML has no namespace)",
    "defaultIngressGateway": {
        "when": f"mesh config ingressControllerMode != OFF (default {ingress_mode}); ingressService defaults to "
                f"'{ingress_service}'",
        "yaml": tmpl.replace("{{.namespace}}", test_ns.group(2)).replace("{{.ingressService}}", ingress_service),
        "note": "the Go harness adds it to every case (multicluster too), after the input files",
    },
    "ignoredNamespaces": ignored_namespaces(),
    "ignoredNamespacesNote": "input objects in these namespaces (or Namespace objects with these names) are "
                             "dropped when files are read (inject.IgnoredNamespaces)",
}
json.dump(harness, open(os.path.join(OUT, "harness.json"), "w"), indent=1)
open(os.path.join(OUT, "harness.json"), "a").write("\n")
