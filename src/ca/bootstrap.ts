// Bootstrap credentials: what a proxy shows the control plane to prove which
// workload it runs as, before it has a certificate. HMAC-signed by a secret
// that never leaves the control plane's state directory, short-lived, and good
// for one certificate: a credential that leaked after its proxy used it (or
// that another process used first) gets nothing.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Codes, ZmError } from "../api/errors.js";
import { saveStateFile } from "../store/state-file.js";

export interface BootstrapIdentity {
  /** "ns/name" of the workload instance. */
  workload: string;
  spiffe: string;
}

export interface BootstrapClaim extends BootstrapIdentity {
  /** The credential's own id: spent once it has bought a certificate. */
  id: string;
  expiresAt: number;
}

export class BootstrapAuthority {
  /** Spent credential ids: their expiry (after which the signature check refuses them anyway) and the CSR they bought. */
  private readonly spent = new Map<string, { e: number; csr: string }>();

  constructor(private readonly secret: Buffer, private readonly spentFile?: string) {
    if (spentFile && existsSync(spentFile)) {
      try {
        for (const [id, v] of Object.entries(JSON.parse(readFileSync(spentFile, "utf8")) as Record<string, { e: number; csr: string }>)) {
          if (typeof v?.e === "number" && typeof v.csr === "string") this.spent.set(id, v);
        }
      } catch {
        // An unreadable list forgets nothing that matters for long: credentials live minutes.
      }
    }
  }

  static openOrCreate(stateDir: string): BootstrapAuthority {
    const file = join(stateDir, "bootstrap.key");
    if (!existsSync(file)) {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600 });
    }
    return new BootstrapAuthority(Buffer.from(readFileSync(file, "utf8").trim(), "hex"), join(stateDir, "bootstrap-spent.json"));
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.secret).update(payload).digest("base64url");
  }

  issue(id: BootstrapIdentity, expiresAt: Date): string {
    const payload = Buffer.from(JSON.stringify({ w: id.workload, s: id.spiffe, e: expiresAt.getTime(), j: randomBytes(16).toString("base64url") })).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  verify(token: string, now: Date): BootstrapClaim {
    const [payload, mac, extra] = token.split(".");
    if (!payload || !mac || extra !== undefined || token.length > 4096) throw new ZmError(Codes.BOOTSTRAP, "malformed bootstrap credential");
    const want = Buffer.from(this.mac(payload));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new ZmError(Codes.BOOTSTRAP, "bootstrap credential signature does not verify (issued by another control plane?)");
    const body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { w: string; s: string; e: number; j: string };
    if (body.e < now.getTime()) throw new ZmError(Codes.BOOTSTRAP, `bootstrap credential for ${body.w} expired at ${new Date(body.e).toISOString()}`);
    return { workload: body.w, spiffe: body.s, id: body.j, expiresAt: body.e };
  }

  /**
   * Marks a credential used for the certificate of `csr` (a digest of the CSR; call before the certificate is handed
   * out, so two requests cannot both spend it). The same CSR may ask again, as a proxy whose answer was lost does:
   * that key is the one the credential already bought, and its proxy alone holds it.
   */
  spend(claim: BootstrapClaim, now: Date, csr: string): void {
    const earlier = this.spent.get(claim.id);
    if (earlier && earlier.csr !== csr) throw new ZmError(Codes.BOOTSTRAP, `bootstrap credential for ${claim.workload} was already used for a certificate; ask for a new one`);
    for (const [id, v] of this.spent) if (v.e < now.getTime()) this.spent.delete(id);
    this.spent.set(claim.id, { e: claim.expiresAt, csr });
    if (this.spentFile) {
      saveStateFile(this.spentFile, Object.fromEntries(this.spent));
    }
  }

  /** Gives a credential back when the certificate it was spent on could not be issued. */
  refund(claim: BootstrapClaim): void {
    this.spent.delete(claim.id);
  }
}
