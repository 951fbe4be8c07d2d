// Who may use the dashboard. It serves the mesh's configuration and lets its
// user ask the engine questions, with the admin credential of whoever ran
// `zeromesh dashboard`; any other local user can reach a loopback port too.
// So the printed URL carries a random token in its fragment (never sent to a
// server, never in a Referer); the page keeps it in sessionStorage and sends
// it in a header with every API call. Not a cookie: a browser sends cookies
// to every port of 127.0.0.1, so any local user's server the browser visits
// would receive it. A header also cannot be added by a page of another origin
// without a CORS preflight, which the dashboard never allows. The Host header
// must name the dashboard itself (a page elsewhere cannot rebind its name to
// 127.0.0.1 and read the answers), and a POST must come from its own origin.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** The header the page sends the session's token in. */
export const SESSION_HEADER = "x-zeromesh-session";

export class DashboardSession {
  readonly token = randomBytes(24).toString("base64url");

  constructor(private readonly port: () => number) {}

  /** The names a browser on this machine uses for the dashboard. */
  private hosts(): string[] {
    return [`127.0.0.1:${this.port()}`, `localhost:${this.port()}`];
  }

  /** Why the request must not be served at all (a foreign Host), or undefined. */
  refusedHost(req: IncomingMessage): string | undefined {
    return this.hosts().includes(req.headers.host ?? "") ? undefined : "the dashboard answers only to 127.0.0.1 and localhost";
  }

  /** Whether the request carries the session's token. */
  admitted(req: IncomingMessage): boolean {
    const offered = req.headers[SESSION_HEADER];
    if (typeof offered !== "string") return false;
    const a = Buffer.from(offered);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Whether a POST comes from the dashboard's own pages. */
  sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    return typeof origin === "string" && this.hosts().some((h) => origin === `http://${h}`);
  }
}
