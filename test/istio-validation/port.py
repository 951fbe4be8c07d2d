#!/usr/bin/env python3
"""Ports Istio's validation test cases into zeromesh's test data (src/api/istio-tables.test.ts reads them).

  python3 test/istio-validation/port.py ISTIO_CHECKOUT

ISTIO_CHECKOUT is a clone (or bare git directory) of github.com/istio/istio. Two sources:
  - pkg/config/validation/testdata/crds/*-{valid,invalid}.yaml: the CRD schema cases, kept as YAML text
    (`_err:` marks an invalid one);
  - pkg/config/validation/validation_test.go: the webhook's Go tables. Each case's Go struct literal is
    turned into the resource's JSON (field names lower-camel, enums by name, oneof wrappers unwrapped,
    durations as proto3 JSON strings); tables over one part of a resource (a server, a route, a traffic
    policy...) are wrapped in the smallest resource that holds it. Cases that cannot be ported (Go-only
    values, type mismatches) are skipped and counted.
"""
import json, os, re, subprocess, sys

ISTIO = sys.argv[1] if len(sys.argv) > 1 else "."
OUT = os.path.dirname(os.path.abspath(__file__))

def show(path):
    """A file of the checkout, from a work tree or a bare repository."""
    if os.path.exists(os.path.join(ISTIO, path)):
        return open(os.path.join(ISTIO, path)).read()
    return subprocess.run(["git", "--git-dir", ISTIO, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout


# ---- CRD schema cases ----
KINDS_CRD = ["authz", "destinationrule", "peerauth", "reqauth", "serviceentry", "telemetry", "workloadentry"]
cases = []
for k in KINDS_CRD:
    for v in ["valid", "invalid"]:
        name = f"{k}-{v}.yaml"
        text = show(f"pkg/config/validation/testdata/crds/{name}")
        for i, d in enumerate(re.split(r'^---\s*$', text, flags=re.M)):
            body = "\n".join(l for l in d.split("\n") if not l.startswith("#")).strip()
            if not body:
                continue
            m = re.match(r'^_err:\s*(.*)$', body.split("\n")[0])
            err = None
            if m:
                err = m.group(1).strip().strip('"').strip("'")
                body = "\n".join(body.split("\n")[1:])
            if "kind:" not in body:
                continue
            cases.append({"source": f"pkg/config/validation/testdata/crds/{name}#{i+1}", "valid": err is None, "istioError": err, "yaml": body})
json.dump(cases, open(os.path.join(OUT, "crd-cases.json"), "w"), indent=1)
print("CRD cases:", len(cases))

# ---- webhook tables ----
src = show('pkg/config/validation/validation_test.go')

class Skip(Exception): pass
class Ident:
    def __init__(s,n): s.n=n
KNOWN_IDENT={"constants.DefaultAuthenticationPolicyName":"default","someName":"foo","someNamespace":"bar",
  "gvk.KubernetesGateway.Group":"gateway.networking.k8s.io","gvk.KubernetesGateway.Kind":"Gateway","gvk.Service.Group":"","gvk.Service.Kind":"Service",
  "gvk.ServiceEntry.Group":"networking.istio.io","gvk.ServiceEntry.Kind":"ServiceEntry","gvk.GatewayClass.Group":"gateway.networking.k8s.io","gvk.GatewayClass.Kind":"GatewayClass"}
def clean(v):
    if isinstance(v,Ident):
        if v.n in KNOWN_IDENT: return KNOWN_IDENT[v.n]
        raise Skip("ident "+v.n)
    if isinstance(v,dict): return {k:clean(x) for k,x in v.items()}
    if isinstance(v,list): return [clean(x) for x in v]
    return v

TOK = re.compile(r'''\s*(?:(//[^\n]*)|("(?:[^"\\]|\\.)*")|(`[^`]*`)|([{}\[\](),:&*.+\-]|==)|([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?))''', re.S)
def tokenize(s):
    out=[]; i=0
    while i < len(s):
        m = TOK.match(s, i)
        if not m:
            if s[i:].strip()=="" : break
            raise Skip("tok at "+s[i:i+20])
        i = m.end()
        if m.group(1): continue
        for k,g in enumerate(m.groups(),1):
            if k==1: continue
            if g is not None: out.append((k,g)); break
    return out

def lower_first(n):
    n=n.rstrip("_")
    special={"JwksUri":"jwksUri"}
    if n in special: return special[n]
    return n[0].lower()+n[1:]

class P:
    def __init__(s, toks): s.t=toks; s.i=0
    def peek(s,o=0): return s.t[s.i+o] if s.i+o < len(s.t) else (0,None)
    def next(s): tok=s.t[s.i]; s.i+=1; return tok
    def expect(s,v):
        k,g=s.next()
        if g!=v: raise Skip(f"expected {v} got {g}")
    def typename(s):
        # parses a type like &pkg.Type, []*pkg.Type, map[string]string, pkg.Type_X
        name=""
        while True:
            k,g=s.peek()
            if g in ("&","*"): s.next(); continue
            if g=="[": s.next(); s.expect("]"); name+="[]"; continue
            if g=="map":
                s.next(); s.expect("["); kt=s.typename(); s.expect("]"); vt=s.typename(); return "map["+kt+"]"+vt
            if k==5:
                s.next(); name+=g
                if s.peek()[1]==".": s.next(); name+="."; continue
                return name
            raise Skip("type "+str(g))
    def value(s):
        k,g=s.peek()
        if k==2: s.next(); return json.loads(g)
        if k==3: s.next(); return g[1:-1]
        if k==6:
            s.next(); v=float(g) if "." in g else int(g)
            if s.peek()[1]=="*":  # 5 * time.Second
                s.next(); tn=s.typename()
                unit={"time.Second":"s","time.Millisecond":"ms","time.Minute":"m","time.Hour":"h"}.get(tn)
                if not unit: raise Skip("dur")
                return f"{v}{unit}"
            return v
        if g=="-":
            s.next(); v=s.value()
            if isinstance(v,(int,float)): return -v
            raise Skip("neg")
        if g in ("true","false"): s.next(); return g=="true"
        if g=="nil": s.next(); return None
        if g=="{": return s.composite("")
        if g in ("&","[","map","*") or k==5:
            tn=s.typename()
            if s.peek()[1]=="{": return s.composite(tn)
            if s.peek()[1]=="(":
                # function call: durationpb.New(x), wrappers
                s.next(); arg=s.value(); s.expect(")")
                if tn in ("durationpb.New",): return arg
                if tn.endswith(".Bool") or tn.endswith(".String") or tn.endswith(".UInt32") or tn.endswith(".Int32") or tn.endswith(".Float64") or tn.endswith(".Double"): return arg
                raise Skip("call "+tn)
            # identifier: enum like pkg.Type_VALUE
            last=tn.split(".")[-1]
            if "_" in last and re.match(r'^[A-Z]',last):
                segs=last.split("_"); tail=[]
                while len(segs)>1 and re.match(r'^[A-Z0-9]+$', segs[-1]): tail.insert(0, segs.pop())
                if tail: return "_".join(tail)
            return Ident(tn)
        raise Skip("value "+str(g))
    def composite(s, tn):
        s.expect("{")
        base=tn.split(".")[-1]
        if tn.startswith("[]"):
            out=[]
            while s.peek()[1]!="}":
                out.append(s.value() if s.peek()[1]!="{" else s.composite(tn[2:]))
                if s.peek()[1]==",": s.next()
            s.next(); return out
        if tn.startswith("map["):
            out={}
            while s.peek()[1]!="}":
                key=s.value(); s.expect(":")
                v=s.value() if s.peek()[1]!="{" else s.composite(tn.split("]",1)[1])
                out[str(key)]=v
                if s.peek()[1]==",": s.next()
            s.next(); return out
        out={}
        while s.peek()[1]!="}":
            k,g=s.next()
            if k!=5: raise Skip("field "+str(g))
            s.expect(":")
            v=s.value()
            if g in ("Value",) and base in ("UInt32Value","BoolValue","StringValue","Int32Value","DoubleValue","Int64Value"): out["__value"]=v
            elif g=="Seconds" and base=="Duration": out["__sec"]=v
            elif g=="Nanos" and base=="Duration": out["__nanos"]=v
            else:
                # a oneof wrapper (Type_Field{Field: v}) hoists its one field
                if isinstance(v,dict) and "__oneof" in v: out.update(v["__oneof"])
                else: out[lower_first(g)]=v
            if s.peek()[1]==",": s.next()
        s.next()
        if "__value" in out: return out["__value"]
        if "__sec" in out or "__nanos" in out:
            sec=int(out.get("__sec",0)); nanos=int(out.get("__nanos",0))
            return f"{sec}.{nanos:09d}s" if nanos else f"{sec}s"
        if "_" in base and len(out)==1 and not base.endswith("Value") and list(out)[0].lower()==base.rstrip("_").split("_")[-1].lower():
            return {"__oneof": out}
        return out

def extract_cases(fn_name):
    start=src.index("func "+fn_name+"(")
    body=src[start:]
    end=body.index("\nfunc ")
    body=body[:end]
    # find the table: after "}{" following "struct {"
    m=re.search(r'cases\s*:=\s*\[\]struct\s*\{.*?\n\t\}\{', body, re.S) or re.search(r'(?:tests|cases|testCases)\s*:=\s*\[\]struct\s*\{.*?\n\t\}\{', body, re.S)
    if not m: return None
    global ORDER
    ORDER=[l.split()[0] for l in m.group(0).split("struct",1)[1].split("\n")[1:-1] if l.strip() and not l.strip().startswith("//")]
    i=m.end()
    # split top-level {...}, entries
    depth=1; entries=[]; cur_start=None; j=i
    while j < len(body) and depth>0:
        c=body[j]
        if c=='"':
            j+=1
            while body[j]!='"':
                if body[j]=='\\': j+=1
                j+=1
        elif c=='`':
            j=body.index('`',j+1)
        elif c=='/' and body[j+1]=='/':
            j=body.index('\n',j)
        elif c=='{':
            depth+=1
            if depth==2: cur_start=j
        elif c=='}':
            depth-=1
            if depth==1 and cur_start is not None: entries.append(body[cur_start:j+1]); cur_start=None
        j+=1
    return entries

def entry_fields(e, order=None):
    p=P(tokenize(e)); p.expect("{")
    f={}
    if order and not (p.peek()[0]==5 and p.peek(1)[1]==":"):
        for name in order:
            if p.peek()[1]=="}": break
            f[name]=p.value()
            if p.peek()[1]==",": p.next()
        p.expect("}")
        return f
    while p.peek()[1]!="}":
        k,g=p.next()
        if k!=5: raise Skip("entryfield")
        p.expect(":")
        f[g]=p.value()
        if p.peek()[1]==",": p.next()
    return f

KIND={"TestValidateRequestAuthentication":("security.istio.io/v1","RequestAuthentication"),
 "TestValidatePeerAuthentication":("security.istio.io/v1","PeerAuthentication"),
 "TestValidateAuthorizationPolicy":("security.istio.io/v1","AuthorizationPolicy"),
 "TestValidateServiceEntries":("networking.istio.io/v1","ServiceEntry"),
 "TestValidateSidecar":("networking.istio.io/v1","Sidecar"),
 "TestValidateVirtualService":("networking.istio.io/v1","VirtualService"),
 "TestValidateDestinationRule":("networking.istio.io/v1","DestinationRule"),
 "TestValidateGateway":("networking.istio.io/v1","Gateway"),
 "TestValidateTelemetry":("telemetry.istio.io/v1","Telemetry"),
 "TestValidateWorkloadEntry":("networking.istio.io/v1","WorkloadEntry"),
}
allcases=[]; stats={}

def port_table(fn, av, kind, field, wrap):
    """One Go table: each case's input (the field `field`, whole or `wrap`ped) as a resource, and Istio's verdict."""
    entries=extract_cases(fn) or []
    ok=0; skipped=[]
    for e in entries:
        try:
            f=entry_fields(e, ORDER)
            # Tables that give the expected error text instead of a flag: empty means valid.
            if "valid" not in f and ("out" in f or "err" in f): f["valid"]=(f.get("out", f.get("err")) == "")
            name=clean(f.get("name") or f.get("desc") or "?")
            x=clean(f.get(field, f.get("config")))
            for key in ("configName","namespace","annotations","labels"):
                if key in f: f[key]=clean(f[key])
        except Skip as ex:
            skipped.append(str(ex)); continue
        spec=wrap(x)
        if f.get("valid") is None or not isinstance(spec,dict): skipped.append("shape"); continue
        if "cannot cast" in str(f.get("out", f.get("err", ""))): skipped.append("a Go type mismatch, not YAML"); continue
        meta={"name": f.get("configName") or "x", "namespace": f.get("namespace") or "default"}
        if f.get("annotations"): meta["annotations"]=f["annotations"]
        if f.get("labels"): meta["labels"]=f["labels"]
        allcases.append({"source":f"pkg/config/validation/validation_test.go {fn}: {name}","valid":bool(f["valid"]),"doc":{"apiVersion":av,"kind":kind,"metadata":meta,"spec":spec}})
        ok+=1
    stats[fn]=(len(entries),ok,len(skipped))

for fn,(av,kind) in KIND.items():
    port_table(fn, av, kind, "in", lambda x: x)
R=[{"destination":{"host":"foo.baz"}}]
def vs_http(rule): return {"hosts":["foo.bar"],"http":[rule]}
def drop_none(d): return {k:v for k,v in d.items() if v is not None}
WRAP={
 "TestValidateServer": ("networking.istio.io/v1","Gateway","in", lambda x: {"selector":{"istio":"ingressgateway"},"servers":[x]}),
 "TestValidateTlsOptions": ("networking.istio.io/v1","Gateway","in", lambda x: {"selector":{"istio":"ingressgateway"},"servers":[{"port":{"number":443,"name":"tls","protocol":"TLS"},"hosts":["*.example.com"],"tls":x}]}),
 "TestValidateHTTPRoute": ("networking.istio.io/v1","VirtualService","route", lambda x: vs_http(x)),
 "TestValidateTrafficPolicy": ("networking.istio.io/v1","DestinationRule","in", lambda x: {"host":"reviews","trafficPolicy":x}),
 "TestValidateConnectionPool": ("networking.istio.io/v1","DestinationRule","in", lambda x: {"host":"reviews","trafficPolicy":{"connectionPool":x}}),
 "TestValidateLoadBalancer": ("networking.istio.io/v1","DestinationRule","in", lambda x: {"host":"reviews","trafficPolicy":{"loadBalancer":x}}),
 "TestValidateOutlierDetection": ("networking.istio.io/v1","DestinationRule","in", lambda x: {"host":"reviews","trafficPolicy":{"outlierDetection":x}}),
 "TestValidateHTTPRetry": ("networking.istio.io/v1","VirtualService","in", lambda x: vs_http(drop_none({"retries":x,"route":R}))),
 "TestValidateHTTPRewrite": ("networking.istio.io/v1","VirtualService","in", lambda x: vs_http(drop_none({"rewrite":x,"route":R}))),
 "TestValidateUriRegexRewrite": ("networking.istio.io/v1","VirtualService","in", lambda x: vs_http({"rewrite":{"uriRegexRewrite":x},"route":R} if x is not None else {"route":R})),
 "TestValidateHTTPRedirect": ("networking.istio.io/v1","VirtualService","redirect", lambda x: vs_http({"redirect":x} if x is not None else {"route":R})),
 "TestValidateHTTPDirectResponse": ("networking.istio.io/v1","VirtualService","directResponse", lambda x: vs_http({"directResponse":x} if x is not None else {"route":R})),
 "TestValidateCORSPolicy": ("networking.istio.io/v1","VirtualService","in", lambda x: vs_http(drop_none({"corsPolicy":x,"route":R}))),
 "TestValidateHTTPFaultInjectionAbort": ("networking.istio.io/v1","VirtualService","in", lambda x: vs_http({"fault":{"abort":x},"route":R} if x is not None else {"route":R})),
 "TestValidateHTTPFaultInjectionDelay": ("networking.istio.io/v1","VirtualService","in", lambda x: vs_http({"fault":{"delay":x},"route":R} if x is not None else {"route":R})),
 "TestValidateRouteDestination": ("networking.istio.io/v1","VirtualService","routes", lambda x: {"hosts":["foo.bar"],"tcp":[{"route":x}]}),
 "TestValidateDestination": ("networking.istio.io/v1","VirtualService","destination", lambda x: vs_http({"route":[{"destination":x}]})),
}
for fn,(av,kind,field,wrap) in WRAP.items():
    port_table(fn, av, kind, field, wrap)
json.dump(allcases, open(os.path.join(OUT, 'webhook-cases.json'),'w'), indent=1)
for k,v in stats.items(): print(k, "entries", v[0], "converted", v[1], "skipped", v[2])
