// Keep-alive connection pools for HTTP: one agent per next hop (and per
// certificate generation, so rotation starts fresh connections while old ones
// drain), and one per local application port.
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { ClientHttp2Session } from "node:http2";
import type { Credentials } from "./credentials.js";
import { H2Sessions } from "./h2.js";
import { meshClientTls, type HopTarget } from "./upstream.js";

const POOL = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 60_000 };

export class Pools {
  private readonly mtls = new Map<string, HttpsAgent>();
  private readonly plain = new HttpAgent(POOL);
  private generation = new WeakMap<Credentials, number>();
  private nextGen = 0;

  private gen(c: Credentials): number {
    let g = this.generation.get(c);
    if (g === undefined) this.generation.set(c, (g = this.nextGen++));
    return g;
  }

  /** The agent for one hop; mTLS agents verify the peer's SPIFFE identity on every new connection. */
  agentFor(t: HopTarget, creds: Credentials | undefined): HttpAgent | HttpsAgent | undefined {
    if (!t.mtls) return this.plain;
    if (!creds) return undefined;
    const key = `${t.host}:${t.port}|${t.identities.join(",")}|${this.gen(creds)}`;
    let a = this.mtls.get(key);
    if (!a) {
      a = new HttpsAgent({ ...POOL, ...meshClientTls(t, creds) });
      this.mtls.set(key, a);
    }
    return a;
  }

  private readonly originating = new Map<string, HttpsAgent>();

  /** TLS originated by the proxy toward a host outside the mesh (DestinationRule tls SIMPLE), verified against `ca`. */
  originate(host: string, sni: string, ca: string | undefined): HttpsAgent {
    const key = `${host}|${sni}|${ca ?? ""}`;
    let a = this.originating.get(key);
    if (!a) this.originating.set(key, (a = new HttpsAgent({ ...POOL, servername: sni, ca: ca || undefined })));
    return a;
  }

  private readonly h2 = new H2Sessions();

  /** A multiplexed HTTP/2 session to a hop (mTLS as for agents) or, with `mtls: false`, h2c to a local application. */
  h2For(t: HopTarget, creds: Credentials | undefined): ClientHttp2Session | undefined {
    if (t.mtls && !creds) return undefined;
    return this.h2.get(`${t.host}:${t.port}|${t.mtls ? `${t.identities.join(",")}|${this.gen(creds!)}` : "h2c"}`, t, creds);
  }

  get local(): HttpAgent {
    return this.plain;
  }

  destroy(): void {
    this.plain.destroy();
    for (const a of this.mtls.values()) a.destroy();
    for (const a of this.originating.values()) a.destroy();
    this.h2.destroy();
  }
}
