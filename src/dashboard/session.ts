// Who may use the dashboard. It serves the mesh's configuration and lets its
// user ask the engine questions, with the admin credential of whoever ran
// `zeromesh dashboard`; any other local user can reach a loopback port too.
// So, as Jupyter does, the printed URL carries a random token, which the
// first visit trades for an HttpOnly, SameSite=Strict cookie; every API call
// needs it. The Host header must name the dashboard itself (a page on
// another site cannot rebind its name to 127.0.0.1 and read the answers),
// and a POST must come from the dashboard's own origin.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const COOKIE = "zm_dashboard";

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

  /** Whether the request holds the session (its cookie). */
  admitted(req: IncomingMessage): boolean {
    const cookie = (req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1);
    return cookie !== undefined && this.matches(cookie);
  }

  /** Whether a POST comes from the dashboard's own pages. */
  sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    return typeof origin === "string" && this.hosts().some((h) => origin === `http://${h}`);
  }

  matches(offered: string): boolean {
    const a = Buffer.from(offered);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  setCookie(): string {
    return `${COOKIE}=${this.token}; HttpOnly; SameSite=Strict; Path=/`;
  }
}
