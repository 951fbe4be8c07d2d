// The mesh graph: workloads and the services they call, an edge per pair that talked, with its request rate,
// error rate and mTLS, laid out by dagre (left to right, callers first), refreshed every few seconds.
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { html } from "htm/preact";
import { useEffect, useRef } from "preact/hooks";
import { api, type Graph, type GraphEdge } from "./api.js";
import { failed, link, usePoll } from "./common.js";

cytoscape.use(dagre);

const rate = (e: GraphEdge) => (e.rate === null ? `${e.total} total` : `${e.rate.toFixed(2)}/s`);
const errors = (e: GraphEdge) => (e.errorRate === null ? "-" : `${(e.errorRate * 100).toFixed(1)}%`);

function edgeLabel(e: GraphEdge): string {
  return `${e.protocol}${e.mtls ? " mTLS" : ""} ${rate(e)}${e.errorRate ? ` · ${errors(e)} errors` : ""}`;
}

function draw(container: HTMLElement, g: Graph, previous?: cytoscape.Core): cytoscape.Core {
  const elements: cytoscape.ElementDefinition[] = [
    ...g.nodes.map((n) => ({ data: { id: n.id, label: n.kind === "workload" ? n.id.replace("/", "\n") : n.id, kind: n.kind } })),
    ...g.edges.map((e) => ({ data: { id: `${e.source}->${e.target}:${e.protocol}`, source: e.source, target: e.target, label: edgeLabel(e), failing: e.errorRate ? 1 : 0, mtls: e.mtls ? 1 : 0 } })),
  ];
  // Same shape as before: update labels in place, so the layout does not jump on every refresh.
  if (previous && previous.elements().length === elements.length && elements.every((el) => previous.getElementById(el.data.id!).nonempty())) {
    for (const el of elements) previous.getElementById(el.data.id!).data(el.data);
    return previous;
  }
  previous?.destroy();
  const cy = cytoscape({
    // A small mesh is not blown up to fill the box.
    container, elements, wheelSensitivity: 0.3, maxZoom: 1.2,
    style: [
      { selector: "node", style: { label: "data(label)", "text-wrap": "wrap", "text-valign": "bottom", "text-margin-y": 4, "font-size": 11, "background-color": "#2b59c3", width: 26, height: 26, shape: "round-rectangle" } },
      { selector: "node[kind = 'service']", style: { shape: "diamond", "background-color": "#7a5af8" } },
      { selector: "node[kind = 'unknown']", style: { shape: "ellipse", "background-color": "#98a2b3" } },
      { selector: "edge", style: { label: "data(label)", "font-size": 10, "curve-style": "bezier", "target-arrow-shape": "triangle", width: 2, "line-color": "#1f7a3f", "target-arrow-color": "#1f7a3f", "text-background-color": "#fff", "text-background-opacity": 0.85, "text-rotation": "autorotate" } },
      { selector: "edge[failing = 1]", style: { "line-color": "#b42318", "target-arrow-color": "#b42318" } },
      { selector: "edge[mtls = 0]", style: { "line-style": "dashed" } },
    ],
    layout: { name: "dagre", rankDir: "LR", nodeSep: 40, rankSep: 160 } as cytoscape.LayoutOptions,
  });
  cy.on("tap", "node[kind = 'workload']", (ev) => (location.hash = link(ev.target.id())));
  return cy;
}

export function GraphPage() {
  const { data, error } = usePoll(api.graph, 3000);
  const box = useRef<HTMLDivElement>(null);
  const cy = useRef<cytoscape.Core | undefined>(undefined);
  useEffect(() => {
    if (!data || !box.current) return;
    cy.current = draw(box.current, data, cy.current);
    // What is drawn, for tests and for screen readers: the canvas says nothing to either.
    box.current.dataset.nodes = String(cy.current.nodes().length);
    box.current.dataset.edges = String(cy.current.edges().length);
  }, [data]);
  useEffect(() => () => cy.current?.destroy(), []);
  return html`<section>
    <h2>Mesh graph</h2>
    ${failed(error)}
    <p class="muted">Edges from the client-side proxies' metrics (istio_requests_total, istio_tcp_connections_opened_total); rates over the last ${data ? Math.round(data.windowSeconds) : 0} s. Solid: mutual TLS; dashed: plaintext; red: errors.</p>
    <div id="graph" ref=${box} aria-label="mesh graph"></div>
    <table id="edges">
      <thead><tr><th>from</th><th>to</th><th>protocol</th><th>rate</th><th>total</th><th>errors</th><th>mTLS</th></tr></thead>
      <tbody>${(data?.edges ?? []).map((e) => html`<tr data-edge=${`${e.source} -> ${e.target}`}>
        <td><a href=${link(e.source)}>${e.source}</a></td><td>${e.target.includes("/") ? html`<a href=${link(e.target)}>${e.target}</a>` : e.target}</td>
        <td>${e.protocol}</td><td>${rate(e)}</td><td class="total">${e.total}</td><td class=${e.errors ? "bad errors" : "errors"}>${e.errors} (${errors(e)})</td>
        <td class="mtls">${e.mtls ? html`<span class="ok">mTLS</span>` : html`<span class="bad">plaintext</span>`}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}
