// Small pieces every page uses: polling a call, and showing a decision's trail.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { Step } from "./api.js";

export interface Loaded<T> { data?: T; error?: string }

/** Calls `load` now and every `everyMs` (0: once) while the page is shown; `key` restarts it. */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, key = ""): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({});
  useEffect(() => {
    let live = true;
    const run = () => load().then((data) => live && setState({ data }), (e: Error) => live && setState((s) => ({ ...s, error: e.message })));
    void run();
    const timer = everyMs ? setInterval(run, everyMs) : undefined;
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [key]);
  return state;
}

export const failed = (error?: string) => (error ? html`<p class="error" role="alert">${error}</p>` : null);

export function Trail({ steps }: { steps: Step[] }) {
  return html`<table class="trail">
    <thead><tr><th>stage</th><th>where</th><th>what happened</th><th>decided by</th></tr></thead>
    <tbody>${steps.map((s) => html`<tr class=${s.shadow ? "muted" : ""}>
      <td><span class="tag">${s.stage}</span></td><td>${s.at}</td><td>${s.message}</td><td>${s.policy ? html`<code>${s.policy}${s.rule ? ` ${s.rule}` : ""}</code>` : ""}</td>
    </tr>`)}</tbody>
  </table>`;
}

export const link = (id: string) => `#/workload/${id}`;
