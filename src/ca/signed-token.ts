// A credential the control plane alone can mint and check: a JSON claim, base64url, and its HMAC-SHA256 under a
// secret kept in the state directory (created 0600 on first use). Bootstrap and join credentials are both made so.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export class SignedTokens {
  constructor(private readonly secret: Buffer) {}

  /** The secret in `file`, made when there is none (whole or not at all); a damaged one is refused, never used short. */
  static fromFile(file: string): SignedTokens {
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
      renameSync(tmp, file);
    }
    const text = readFileSync(file, "utf8").trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file} does not hold a 32-byte secret (64 hex digits); remove it to make a new one (every credential it signed stops working)`);
    return new SignedTokens(Buffer.from(text, "hex"));
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.secret).update(payload).digest("base64url");
  }

  sign(claim: object): string {
    const payload = Buffer.from(JSON.stringify(claim)).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  /** The claim, or why not: "malformed" or "signature" (so each kind of credential words its own error). */
  verify<T>(token: string): T | "malformed" | "signature" {
    const [payload, mac, extra] = token.split(".");
    if (!payload || !mac || extra !== undefined || token.length > 4096) return "malformed";
    const want = Buffer.from(this.mac(payload));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return "signature";
    try {
      return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as T;
    } catch {
      return "malformed";
    }
  }
}
