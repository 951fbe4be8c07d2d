// Bootstrap credentials: what a proxy shows the control plane to prove which
// workload it runs as, before it has a certificate. HMAC-signed by a secret
// that never leaves the control plane's state directory.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Codes, ZmError } from "../api/errors.js";

export interface BootstrapIdentity {
  /** "ns/name" of the workload instance. */
  workload: string;
  spiffe: string;
}

export class BootstrapAuthority {
  constructor(private readonly secret: Buffer) {}

  static openOrCreate(stateDir: string): BootstrapAuthority {
    const file = join(stateDir, "bootstrap.key");
    if (!existsSync(file)) {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600 });
    }
    return new BootstrapAuthority(Buffer.from(readFileSync(file, "utf8").trim(), "hex"));
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.secret).update(payload).digest("base64url");
  }

  issue(id: BootstrapIdentity, expiresAt: Date): string {
    const payload = Buffer.from(JSON.stringify({ w: id.workload, s: id.spiffe, e: expiresAt.getTime() })).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  verify(token: string, now: Date): BootstrapIdentity {
    const [payload, mac, extra] = token.split(".");
    if (!payload || !mac || extra !== undefined) throw new ZmError(Codes.BOOTSTRAP, "malformed bootstrap credential");
    const want = Buffer.from(this.mac(payload));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new ZmError(Codes.BOOTSTRAP, "bootstrap credential signature does not verify (issued by another control plane?)");
    const body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { w: string; s: string; e: number };
    if (body.e < now.getTime()) throw new ZmError(Codes.BOOTSTRAP, `bootstrap credential for ${body.w} expired at ${new Date(body.e).toISOString()}`);
    return { workload: body.w, spiffe: body.s };
  }
}
