// The dashboard's pages other than the graph: workloads, one workload, denials, egress, and "can A reach B?".
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { api, type CheckForm, type Decision, type Denial, type WorkloadView } from "./api.js";
import { failed, link, Trail, usePoll } from "./common.js";

const statusTag = (s: string | null | undefined) => (s ? html`<span class=${`tag ${s === "SYNCED" ? "ok" : "bad"}`}>${s}</span>` : html`<span class="muted">no proxy</span>`);

export function WorkloadsPage() {
  const { data, error } = usePoll(api.workloads, 5000);
  return html`<section>
    <h2>Workloads</h2>
    ${failed(error)}
    <table id="workloads">
      <thead><tr><th>workload</th><th>identity</th><th>kind</th><th>proxy</th></tr></thead>
      <tbody>${(data ?? []).map((w) => html`<tr class="clickable" onClick=${() => (location.hash = link(w.id))}>
        <td><a href=${link(w.id)}>${w.id}</a></td><td><code>${w.spiffe}</code></td><td>${w.gateway ? "gateway" : w.sidecar ? "sidecar" : "no sidecar"}</td><td>${statusTag(w.status)}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}

export function WorkloadPage({ id }: { id: string }) {
  const { data: w, error } = usePoll(() => api.workload(id), 5000, id);
  if (!w) return html`<section><h2>${id}</h2>${failed(error)}</section>`;
  return html`<section>
    <h2>Workload ${w.id}</h2>
    ${failed(error)}
    <div class="grid" id="identity">
      <span>identity</span><code>${w.spiffe}</code>
      <span>service account</span><span>${w.serviceAccount}</span>
      <span>labels</span><span>${Object.entries(w.labels).map(([k, v]) => html`<span class="tag">${k}=${v}</span>`)}</span>
      <span>services</span><span>${w.services.map((s) => html`<span class="tag">${s.host}:${s.port} ${s.protocol}</span>`)}</span>
      <span>proxy</span><span>${w.proxy ? html`${statusTag(w.proxy.status)} config ${w.proxy.sent ?? "-"} sent, ${w.proxy.acked ?? "-"} acknowledged${w.proxy.certificate ? html`; certificate until ${w.proxy.certificate.notAfter}` : ""}` : statusTag(null)}</span>
      <span>listeners</span><span>${w.proxy ? Object.entries(w.proxy.listeners).map(([p, a]) => html`<span class="tag">${p} → ${a}</span>`) : "-"}${w.proxy?.outbound ? html`<span class="tag">outbound ${w.proxy.outbound}</span>` : ""}</span>
    </div>
    <h3>Sidecar scope</h3>
    <div class="grid" id="scope">
      <span>Sidecar</span><span>${w.scope.sidecar ?? "none"} <span class="muted">(${w.scope.why})</span></span>
      <span>outbound traffic</span><span><b>${w.scope.outbound.mode}</b> <span class="muted">from ${w.scope.outbound.from}</span></span>
      <span>mTLS (PeerAuthentication)</span><span>${w.mtls.map((m) => html`<span class="tag">port ${m.port}: ${m.mode}${m.from.length ? ` (${m.from.join(", ")})` : ""}</span>`)}</span>
    </div>
    <h3>Authorization policies that apply (${w.authorization.length})</h3>
    ${w.authorization.length ? html`<table id="policies"><thead><tr><th>policy</th><th>action</th><th>what it says</th></tr></thead><tbody>
      ${w.authorization.map((p) => html`<tr><td><code>${p.policy}</code>${p.dryRun ? html` <span class="tag">dry-run</span>` : ""}</td><td><b>${p.action}</b>${p.provider ? ` (${p.provider})` : ""}</td><td><pre>${JSON.stringify(p.spec, null, 2)}</pre></td></tr>`)}
    </tbody></table>` : html`<p class="muted">None: every request is allowed (no ALLOW policy selects this workload).</p>`}
    ${w.requestAuthentication.length ? html`<h3>Request authentication</h3><ul>${w.requestAuthentication.map((r) => html`<li><code>${r.policy} ${r.rule}</code> issuer ${r.issuer || "(any)"}</li>`)}</ul>` : ""}
    <h3>Egress</h3>
    <${Reach} w=${w} />
  </section>`;
}

function Reach({ w }: { w: WorkloadView }) {
  const visible = w.egress.filter((e) => e.visible);
  const hidden = w.egress.filter((e) => !e.visible);
  return html`<p>May reach ${visible.length} service port${visible.length === 1 ? "" : "s"}; ${hidden.length} hidden by its scope. Hosts outside the registry: <b>${w.scope.outbound.mode === "REGISTRY_ONLY" ? "blocked" : "allowed"}</b> (${w.scope.outbound.from}).</p>
    <table class="reach"><thead><tr><th>service</th><th>from</th><th>reachable</th><th>why</th></tr></thead><tbody>
      ${w.egress.map((e) => html`<tr><td>${e.host}:${e.port}</td><td>${e.source}</td><td>${e.visible ? html`<span class="ok">yes</span>` : html`<span class="bad">no</span>`}</td><td class="muted">${e.why}</td></tr>`)}
    </tbody></table>`;
}

function DenialRow({ d }: { d: Denial }) {
  const [open, setOpen] = useState(false);
  return html`<tr class="clickable denial" onClick=${() => setOpen(!open)}>
      <td>${d.last.replace("T", " ").slice(0, 19)}</td><td>${d.proxy}</td><td>${d.direction}</td><td>${d.peer ?? "-"}</td>
      <td><code>${d.method} ${d.host}${d.port ? `:${d.port}` : ""}${d.path}</code></td><td class="bad">${d.answer}</td>
      <td>${d.policy ? html`<code class="decided-by">${d.policy}${d.rule ? ` ${d.rule}` : ""}</code>` : "-"}</td><td>${d.reason}</td><td>${d.count}</td>
    </tr>
    ${open ? html`<tr><td colspan="9"><${Trail} steps=${d.trail} /></td></tr>` : null}`;
}

export function DenialsPage() {
  const { data, error } = usePoll(api.denials, 3000);
  return html`<section>
    <h2>Denials</h2>
    ${failed(error)}
    <p class="muted">Requests and connections the proxies refused, newest first, counted per kind; click one for its decision trail.</p>
    <table id="denials">
      <thead><tr><th>last</th><th>proxy</th><th>direction</th><th>caller</th><th>request</th><th>answer</th><th>decided by</th><th>reason</th><th>count</th></tr></thead>
      <tbody>${(data ?? []).map((d) => html`<${DenialRow} d=${d} />`)}</tbody>
    </table>
    ${data && !data.length ? html`<p class="muted">Nothing refused yet.</p>` : null}
  </section>`;
}

export function EgressPage() {
  const workloads = usePoll(api.workloads, 0);
  const alerts = usePoll(api.alerts, 3000);
  const deliveries = usePoll(api.deliveries, 5000);
  const [chosen, setChosen] = useState("");
  const first = workloads.data?.find((w) => w.sidecar)?.id ?? "";
  const id = chosen || first;
  return html`<section>
    <h2>Egress</h2>
    ${failed(workloads.error ?? alerts.error)}
    <h3>Blocked by REGISTRY_ONLY</h3>
    <table id="blocked"><thead><tr><th>last</th><th>proxy</th><th>destination</th><th>count</th><th>decided by</th><th>reason</th></tr></thead><tbody>
      ${(alerts.data ?? []).slice().reverse().map((a) => html`<tr><td>${a.last.replace("T", " ").slice(0, 19)}</td><td>${a.proxy}</td><td><code>${a.protocol} ${a.host}:${a.port}</code></td><td>${a.count}</td><td>${a.policy ?? "-"}</td><td>${a.reason}</td></tr>`)}
    </tbody></table>
    ${deliveries.data?.length ? html`<h3>Alerts that could not be delivered</h3><table><tbody>${deliveries.data.map((f) => html`<tr><td>${f.time}</td><td>${f.receiver}</td><td>${f.error}</td></tr>`)}</tbody></table>` : null}
    <h3>What a workload may reach</h3>
    <select id="egress-workload" value=${id} onChange=${(e: Event) => setChosen((e.target as HTMLSelectElement).value)}>
      ${(workloads.data ?? []).filter((w) => w.sidecar).map((w) => html`<option value=${w.id}>${w.id}</option>`)}
    </select>
    ${id ? html`<${EgressOf} id=${id} />` : null}
  </section>`;
}

function EgressOf({ id }: { id: string }) {
  const { data, error } = usePoll(() => api.workload(id), 0, id);
  return data ? html`<${Reach} w=${data} />` : failed(error);
}

export function CheckPage() {
  const workloads = usePoll(api.workloads, 0);
  const [form, setForm] = useState<CheckForm>({ from: "", to: "http://", method: "GET", headers: [] });
  const [result, setResult] = useState<{ decision?: Decision; error?: string }>({});
  const from = form.from || workloads.data?.[0]?.id || "";
  const set = (k: keyof CheckForm) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const submit = (e: Event) => {
    e.preventDefault();
    api.check({ ...form, from, via: from === "outside" ? form.via : undefined }).then((decision) => setResult({ decision }), (err: Error) => setResult({ error: err.message }));
  };
  const d = result.decision;
  return html`<section>
    <h2>Can A reach B?</h2>
    <p class="muted">Asks the engine with the running configuration, as <code>zeromesh check</code> does: the same decision and trail the proxies would produce.</p>
    <form class="check" onSubmit=${submit}>
      <label for="from">from</label>
      <select id="from" value=${from} onChange=${set("from")}>
        ${(workloads.data ?? []).map((w) => html`<option value=${w.id}>${w.id}</option>`)}
        <option value="outside">outside (through a gateway)</option>
      </select>
      ${from === "outside" ? html`<label for="via">via gateway service</label><input id="via" placeholder="istio-system/istio-ingressgateway:80" value=${form.via ?? ""} onInput=${set("via")} />` : null}
      <label for="to">URL</label><input id="to" value=${form.to} onInput=${set("to")} />
      <label for="method">method</label><input id="method" value=${form.method} onInput=${set("method")} />
      <label for="headers">headers</label><textarea id="headers" placeholder="name: value" onInput=${(e: Event) => setForm({ ...form, headers: (e.target as HTMLTextAreaElement).value.split("\n").filter((l) => l.trim()) })}></textarea>
      <span></span><button type="submit">Check</button>
    </form>
    ${failed(result.error ?? workloads.error)}
    ${d ? html`<div id="verdict">
      <p class="verdict"><span class=${d.allow ? "ok" : "bad"}>${d.allow ? "ALLOWED" : "DENIED"}</span> — ${d.outcome.kind === "response" ? `HTTP ${d.outcome.status}` : d.outcome.kind}${d.code ? html` <span class="tag bad">${d.code}</span>` : ""}</p>
      <p>${d.reason}</p>
      ${d.policy ? html`<p>decided by <code class="decided-by">${d.policy}${d.rule ? ` ${d.rule}` : ""}</code></p>` : null}
      <${Trail} steps=${d.trail} />
    </div>` : null}
  </section>`;
}
