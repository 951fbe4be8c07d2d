// Join credentials: what a node agent (`zeromesh node`) shows the control plane to prove which node it is. Minted
// by the administrator (`zeromesh node-token`), handed over out of band as a file (never on a command line), signed
// by a secret of the control plane's own, and bound to one node name: with it a node may run, and get identities
// for, only the workloads assigned to that name. It is presented on every call; it expires (ZEROMESH_JOIN_TTL).
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Codes, ZmError } from "../api/errors.js";
import { SignedTokens } from "./signed-token.js";

/** A node name as Kubernetes allows one (a DNS subdomain), which is also what the join file names. */
export const NODE_NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;

export class JoinAuthority {
  constructor(private readonly tokens: SignedTokens) {}

  static openOrCreate(stateDir: string): JoinAuthority {
    return new JoinAuthority(SignedTokens.fromFile(join(stateDir, "join.key")));
  }

  issue(node: string, expiresAt: Date): string {
    if (!NODE_NAME.test(node)) throw new ZmError(Codes.BAD_MESSAGE, `"${node}" is not a node name (lowercase letters, digits, "-" and ".", at most 63)`);
    return this.tokens.sign({ n: node, e: expiresAt.getTime(), j: randomBytes(16).toString("base64url") });
  }

  /** The node the credential names, and when it expires; throws ZM_NODE_REJECTED otherwise. */
  verify(token: string, now: Date): { node: string; expiresAt: number } {
    const claim = this.tokens.verify<{ n?: unknown; e?: unknown }>(token);
    if (claim === "signature") throw new ZmError(Codes.NODE, "join credential signature does not verify (issued by another control plane?)");
    if (claim === "malformed" || typeof claim.n !== "string" || typeof claim.e !== "number") throw new ZmError(Codes.NODE, "malformed join credential");
    if (claim.e < now.getTime()) throw new ZmError(Codes.NODE, `the join credential of node ${claim.n} expired at ${new Date(claim.e).toISOString()}; make a new one with zeromesh node-token`);
    return { node: claim.n, expiresAt: claim.e };
  }
}
