// The admin API's credential: a random bearer token that `zeromesh up` keeps
// in its state directory, readable by its owner only. Whoever can read the
// file is the mesh's administrator (as whoever can read a kubeconfig); every
// other local process is refused.
import { randomBytes, timingSafeEqual } from "node:crypto";
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

/** Whether an Authorization header carries the token (constant time). */
export function adminAuthorized(header: string | undefined, token: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const got = Buffer.from(header.slice(7));
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}
