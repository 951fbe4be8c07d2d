// Alerts that reach people: the control plane POSTs Slack-compatible
// incoming-webhook JSON (`text` plus blocks) to every configured receiver.
// Each receiver has a bounded queue and is tried a few times with back-off;
// what could not be delivered is audited and kept for `zeromesh alerts`.
export interface DeliveryFailure {
  time: string;
  receiver: string;
  text: string;
  error: string;
  attempts: number;
}

export interface NotifierOptions {
  /** Messages waiting per receiver; beyond it the oldest is dropped (and counted as a failure). */
  queue?: number;
  attempts?: number;
  /** First back-off; it doubles per attempt. */
  backoffMs?: number;
  timeoutMs?: number;
  audit?: (e: Record<string, unknown>) => void;
}

/** Failures kept for the admin API; the audit trail has them all. */
const KEPT_FAILURES = 200;

/** A receiver's URL as shown: its origin and path, never a query string (Slack's webhook secret is the path, so only its start). */
export const receiverLabel = (url: string) => {
  const u = new URL(url);
  return `${u.origin}${u.pathname.length > 12 ? `${u.pathname.slice(0, 12)}…` : u.pathname}`;
};

export class Notifier {
  private readonly queues = new Map<string, string[]>();
  private readonly busy = new Set<string>();
  private readonly failed: DeliveryFailure[] = [];
  private stopped = false;
  private readonly opts: Required<Omit<NotifierOptions, "audit">> & Pick<NotifierOptions, "audit">;

  constructor(readonly receivers: readonly string[], opts: NotifierOptions = {}) {
    this.opts = { queue: 100, attempts: 4, backoffMs: 1000, timeoutMs: 5000, ...opts };
    for (const r of receivers) this.queues.set(r, []);
  }

  /** Queues a message (Markdown in Slack's mrkdwn) for every receiver. */
  notify(text: string): void {
    if (this.stopped) return;
    for (const [r, q] of this.queues) {
      q.push(text);
      if (q.length > this.opts.queue) this.fail(r, q.shift()!, "the receiver's queue was full; the oldest message was dropped", 0);
      void this.drain(r);
    }
  }

  failures(): DeliveryFailure[] {
    return [...this.failed];
  }

  /** Whether every queue is empty and nothing is being sent. */
  idle(): boolean {
    return [...this.queues.values()].every((q) => !q.length) && !this.busy.size;
  }

  stop(): void {
    this.stopped = true;
  }

  private async drain(r: string): Promise<void> {
    if (this.busy.has(r)) return;
    this.busy.add(r);
    try {
      const q = this.queues.get(r)!;
      // The message in flight has left the queue: a full queue drops the oldest still waiting.
      while (q.length && !this.stopped) await this.deliver(r, q.shift()!);
    } finally {
      this.busy.delete(r);
    }
  }

  private async deliver(r: string, text: string): Promise<void> {
    const body = JSON.stringify({ text, blocks: [{ type: "section", text: { type: "mrkdwn", text } }] });
    let error = "";
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      try {
        const res = await fetch(r, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(this.opts.timeoutMs) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        error = `answered ${res.status}`;
        // A client error will not change on its own.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) break;
      } catch (e) {
        error = (e as Error).message;
      }
      if (attempt < this.opts.attempts && !this.stopped) await new Promise((ok) => setTimeout(ok, this.opts.backoffMs * 2 ** (attempt - 1)).unref());
    }
    this.fail(r, text, error, this.opts.attempts);
  }

  private fail(r: string, text: string, error: string, attempts: number): void {
    const f: DeliveryFailure = { time: new Date().toISOString(), receiver: receiverLabel(r), text: text.slice(0, 500), error, attempts };
    this.failed.push(f);
    if (this.failed.length > KEPT_FAILURES) this.failed.shift();
    this.opts.audit?.({ time: f.time, event: "alert-delivery-failed", receiver: f.receiver, error, attempts });
  }
}
