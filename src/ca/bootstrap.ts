// Bootstrap credentials: what a proxy shows the control plane to prove which
// workload it runs as, before it has a certificate. HMAC-signed by a secret
// that never leaves the control plane's state directory, short-lived, and good
// for one certificate: a credential that leaked after its proxy used it (or
// that another process used first) gets nothing.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Codes, ZmError } from "../api/errors.js";
import { saveStateFile } from "../store/state-file.js";
import { SignedTokens } from "./signed-token.js";

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

  constructor(private readonly tokens: SignedTokens, private readonly spentFile?: string) {
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
    return new BootstrapAuthority(SignedTokens.fromFile(join(stateDir, "bootstrap.key")), join(stateDir, "bootstrap-spent.json"));
  }

  issue(id: BootstrapIdentity, expiresAt: Date): string {
    return this.tokens.sign({ w: id.workload, s: id.spiffe, e: expiresAt.getTime(), j: randomBytes(16).toString("base64url") });
  }

  verify(token: string, now: Date): BootstrapClaim {
    const body = this.tokens.verify<{ w: string; s: string; e: number; j: string }>(token);
    if (body === "malformed") throw new ZmError(Codes.BOOTSTRAP, "malformed bootstrap credential");
    if (body === "signature") throw new ZmError(Codes.BOOTSTRAP, "bootstrap credential signature does not verify (issued by another control plane?)");
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
