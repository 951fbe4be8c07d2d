// The admin API's credential: a random key that `zeromesh up` keeps in its
// state directory, readable by its owner only. Whoever can read the file is
// the mesh's administrator (as whoever can read a kubeconfig); every other
// local process is refused. The key itself never travels: each request is
// signed with it (method, path, time, a nonce, the body's digest), so a local
// user who squats the admin port while the control plane is down learns
// nothing to reuse, and a signed request cannot be replayed or altered.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Codes, ZmError } from "../api/errors.js";

export const ADMIN_TOKEN_FILE = "admin.token";

/** Where the credential lives: the setting, else the state directory's file. */
export function adminTokenPath(s: { stateDir: string; adminTokenFile: string }): string {
  return s.adminTokenFile || join(s.stateDir, ADMIN_TOKEN_FILE);
}

/** The control plane's side: the token in `file`, made (0600, in a 0700 folder) when there is none. */
export function openOrCreateAdminToken(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  }
  // A file others can read is no credential: tighten it rather than serve with it.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return readAdminToken(file);
}

/** The CLI's side: the token, or an error that says where it was looked for. */
export function readAdminToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new ZmError(Codes.ADMIN_AUTH, `cannot read the admin credential ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); run as the user that runs \`zeromesh up\`, or set ZEROMESH_STATE_DIR or ZEROMESH_ADMIN_TOKEN_FILE`);
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new ZmError(Codes.ADMIN_AUTH, `${file} does not hold an admin credential`);
  return text;
}

const SCHEME = "ZM-HMAC";
/** How long a challenge the control plane handed out stays good (it is good for one request). */
export const CHALLENGE_TTL_MS = 60_000;
/** Challenges outstanding at once (the endpoint answers anyone: a flood must not grow memory). */
const MAX_CHALLENGES = 10_000;

const hmac = (token: string, text: string) => createHmac("sha256", token).update(text).digest("base64url");
const requestMac = (token: string, method: string, path: string, challenge: string, body: string) =>
  hmac(token, `request\n${method}\n${path}\n${challenge}\n${createHash("sha256").update(body).digest("base64url")}`);
const sameText = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * The control plane's side of signed admin requests: challenges it hands out (with its proof that it holds the
 * credential), each good for one request within CHALLENGE_TTL_MS.
 */
export class AdminChallenges {
  private readonly open = new Map<string, number>();

  constructor(private readonly token: string) {}

  /** A new challenge, and the proof a client checks before it signs anything for this endpoint. */
  issue(now = Date.now()): { challenge: string; proof: string } {
    if (this.open.size >= MAX_CHALLENGES) this.open.delete(this.open.keys().next().value!);
    const challenge = randomBytes(24).toString("base64url");
    this.open.set(challenge, now);
    return { challenge, proof: hmac(this.token, `server\n${challenge}`) };
  }

  /** Undefined when the request is signed with the credential over one of our open challenges (then spent), else why not. */
  verify(header: string | undefined, method: string, path: string, body: string, now = Date.now()): string | undefined {
    const m = new RegExp(`^${SCHEME} c=([A-Za-z0-9_-]{32}),m=([A-Za-z0-9_-]{43})$`).exec(header ?? "");
    if (!m) return "the admin API needs a request signed with the admin credential (from the control plane's state directory)";
    const [, challenge, got] = m as unknown as [string, string, string];
    if (!sameText(got, requestMac(this.token, method, path, challenge, body))) return "the request's signature does not verify (another control plane's credential, or an altered request)";
    const issued = this.open.get(challenge);
    if (issued === undefined || now - issued > CHALLENGE_TTL_MS) return "the request's challenge is not one this control plane has open (used before, expired, or never issued)";
    this.open.delete(challenge);
    return undefined;
  }
}

/**
 * The client's side: checks that the endpoint proved it holds the credential (a squatter on the admin port cannot),
 * then signs one request over its challenge. The credential itself never travels.
 */
export function signAdminRequest(token: string, offered: { challenge?: unknown; proof?: unknown }, method: string, path: string, body: string): string {
  const { challenge, proof } = offered;
  if (typeof challenge !== "string" || typeof proof !== "string" || !/^[A-Za-z0-9_-]{32}$/.test(challenge) || !sameText(proof, hmac(token, `server\n${challenge}`))) {
    throw new ZmError(Codes.ADMIN_AUTH, "the admin endpoint could not prove it holds this mesh's admin credential: it is not this mesh's control plane (is another process on its port?)");
  }
  return `${SCHEME} c=${challenge},m=${requestMac(token, method, path, challenge, body)}`;
}
