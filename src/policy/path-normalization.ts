// Request paths as Envoy normalizes them before any route or policy sees them
// (Istio's meshConfig pathNormalization): every proxy decides on, and
// forwards, the normalized path, so `/x/../admin` cannot slip past a rule on
// `/admin*` and then reach the application as `/admin`.
//
// BASE is Envoy's `normalize_path` (RFC 3986 §6 as Chromium's URL
// canonicalizer does it: backslashes are slashes, escaped unreserved
// characters are decoded, dot segments removed); MERGE_SLASHES adds
// `merge_slashes`; DECODE_AND_MERGE_SLASHES first decodes %2F and %5C
// (`path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD`). The query is
// never touched; a fragment is dropped, as Envoy strips it.

import type { PathNormalization } from "../api/mesh.js";
import type { Walk } from "./context.js";
import { BAD_REQUEST, DenyCodes, type Decision } from "./decision.js";

export type NormalizedPath = { path: string } | { error: string };

const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** Characters Chromium escapes in a path rather than pass on (controls, space, non-ASCII and a few delimiters). */
const MUST_ESCAPE = /[\u0000-\u0020"<>`{}|^\u007f-\uffff]/;

/** A target in origin form (`/path?query`) normalized by `mode`, or why it is not a path a proxy accepts (400). */
export function normalizePath(target: string, mode: PathNormalization): NormalizedPath {
  if (!target.startsWith("/")) return { error: `the request target ${JSON.stringify(target.slice(0, 60))} is not a path` };
  // Most targets are already normal under every mode: one pass tells, and they are kept as they are.
  return alreadyNormal(target) ? { path: target } : normalizeLongWay(target, mode);
}

/** normalizePath for a target that starts with "/", step by step (exported so a test can hold the short way to it). */
export function normalizeLongWay(target: string, mode: PathNormalization): NormalizedPath {
  const hash = target.indexOf("#");
  const noFragment = hash < 0 ? target : target.slice(0, hash);
  if (mode === "NONE") return { path: noFragment };
  const q = noFragment.indexOf("?");
  let path = q < 0 ? noFragment : noFragment.slice(0, q);
  const query = q < 0 ? "" : noFragment.slice(q);
  if (mode === "DECODE_AND_MERGE_SLASHES") path = path.replace(/%2f/gi, "/").replace(/%5c/gi, "\\");
  const canonical = canonicalize(path);
  if (canonical === undefined) return { error: `the path ${JSON.stringify(path.slice(0, 60))} cannot be normalized` };
  path = removeDotSegments(canonical);
  if (mode !== "BASE") path = path.replace(/\/{2,}/g, "/");
  return { path: path + query };
}

/**
 * Whether no mode would change `target` (a path that starts with "/"): up to its query, no character to escape or
 * decode, no backslash, no dot segment, no empty segment; and no fragment anywhere. A segment that merely starts with
 * a dot ("/.well-known") or a query with anything in it goes the long way, which keeps it as it is.
 */
function alreadyNormal(target: string): boolean {
  let prev = 0;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */) return target.indexOf("#", i) < 0;
    if (c >= 0x80 || NOT_KEPT[c]) return false;
    if (prev === 47 /* / */ && (c === 47 || c === 46 /* . */)) return false;
    prev = c;
  }
  return true;
}

/** The ASCII characters some step changes (MUST_ESCAPE's, "%" decoded, "\\" made a slash) or ends the path at ("#"), by code. */
const NOT_KEPT: boolean[] = Array.from({ length: 0x80 }, (_, c) => MUST_ESCAPE.test(String.fromCharCode(c)) || "%\\#".includes(String.fromCharCode(c)));

/** Backslashes as slashes, escaped unreserved characters decoded, characters that need it escaped. */
function canonicalize(path: string): string | undefined {
  // Most paths need nothing: keep them as they are.
  if (!/[%\\\u0000-\u0020"<>`{}|^\u007f-\uffff]/.test(path)) return path;
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\") out += "/";
    else if (c === "%" && /^[0-9a-fA-F]{2}$/.test(path.slice(i + 1, i + 3))) {
      const decoded = String.fromCharCode(parseInt(path.slice(i + 1, i + 3), 16));
      out += UNRESERVED.test(decoded) ? decoded : path.slice(i, i + 3);
      i += 2;
    } else if (MUST_ESCAPE.test(c)) {
      // Node hands over a request line's bytes as latin1 (one character a byte): each is one byte to escape. A
      // character past 0xFF can only come from elsewhere, and is escaped as its UTF-8.
      const bytes = c.charCodeAt(0) <= 0xff ? [c.charCodeAt(0)] : Buffer.from(c, "utf8");
      for (const b of bytes) out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    } else out += c;
  }
  return out;
}

/** RFC 3986 §5.2.4 on a path that starts with "/": "." segments go, ".." takes the one before it (never above the root). */
function removeDotSegments(path: string): string {
  if (!/\/\.\.?(\/|$)/.test(path)) return path;
  const segments = path.split("/").slice(1);
  const out: string[] = [];
  segments.forEach((s, i) => {
    const last = i === segments.length - 1;
    if (s === "." || s === "..") {
      if (s === "..") out.pop();
      // A dot segment at the end leaves the path ending in a slash.
      if (last) out.push("");
    } else out.push(s);
  });
  return "/" + out.join("/");
}

/**
 * A request line's target in absolute form (`http://host/path`), as a client may send to any proxy: the
 * authority it names and the path. Envoy takes both from the target, so policy sees what is forwarded.
 */
export function splitAbsoluteForm(target: string): { authority: string; target: string } | undefined {
  // Origin form, the usual target, is told at its first character.
  if (target.charCodeAt(0) === 47 /* / */) return undefined;
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)(.*)$/.exec(target);
  if (!m) return undefined;
  // Userinfo is not part of the authority a proxy routes on.
  const authority = m[1]!.includes("@") ? m[1]!.replace(/^[^@]*@/, "") : m[1]!;
  const rest = m[2]!;
  return { authority, target: rest.startsWith("/") ? rest : `/${rest}` };
}

/**
 * A proxy's first step on an HTTP request: the walk goes on with the normalized path (what policy matches and what
 * is forwarded), or the request ends here with 400, as Envoy answers a path it cannot normalize.
 */
export function normalizeAtProxy(walk: Walk, at: string): Decision | undefined {
  const req = walk.req;
  if (req.method === "CONNECT" || req.path === "") return undefined;
  const mode = walk.index.snapshot.mesh.pathNormalization;
  const r = normalizePath(req.path, mode);
  if ("error" in r) return walk.trail.deny({ kind: "response", ...BAD_REQUEST }, `${r.error} (meshConfig pathNormalization ${mode})`, DenyCodes.BAD_PATH);
  if (r.path !== req.path) {
    walk.trail.add({ stage: "route", at, message: `path ${req.path} normalized to ${r.path} (meshConfig pathNormalization ${mode})` });
    walk.req = { ...req, path: r.path };
  }
  return undefined;
}
