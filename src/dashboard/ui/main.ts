// The dashboard: pages routed by the URL's hash, so the server only ever serves one page and its API.
import { html, render } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { GraphPage } from "./graph.js";
import { CheckPage, DenialsPage, EgressPage, WorkloadPage, WorkloadsPage } from "./pages.js";
import { sessionToken } from "./api.js";

const PAGES = [["graph", "Graph"], ["workloads", "Workloads"], ["denials", "Denials"], ["egress", "Egress"], ["check", "Can A reach B?"]] as const;

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function App() {
  const parts = useHash().replace(/^#\/?/, "").split("/");
  const page = parts[0] || "graph";
  const body = page === "workload" ? html`<${WorkloadPage} id=${parts.slice(1).join("/")} />`
    : page === "workloads" ? html`<${WorkloadsPage} />`
    : page === "denials" ? html`<${DenialsPage} />`
    : page === "egress" ? html`<${EgressPage} />`
    : page === "check" ? html`<${CheckPage} />`
    : html`<${GraphPage} />`;
  return html`<header><h1>zeromesh</h1><nav>${PAGES.map(([id, label]) => html`<a href=${`#/${id}`} class=${page === id || (id === "workloads" && page === "workload") ? "active" : ""}>${label}</a>`)}</nav></header>
    <main>${body}</main>`;
}

// The token first: it leaves the address bar before any page reads the hash as a route.
sessionToken();
render(html`<${App} />`, document.getElementById("app")!);
