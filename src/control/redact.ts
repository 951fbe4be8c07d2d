// Private keys never leave the control plane through its views (as Envoy's
// config dump and `istioctl proxy-config secret`): a key in a Secret, in PEM
// or base64 of PEM, is shown as "[redacted]"; certificates stay readable.

const REDACTED = "[redacted]";
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

function holdsKey(s: string): boolean {
  if (PEM_KEY.test(s)) return true;
  // Secret data is base64: look inside what could be base64 of a PEM.
  return s.length >= 40 && /^[A-Za-z0-9+/=\s]+$/.test(s) && PEM_KEY.test(Buffer.from(s, "base64").toString("latin1"));
}

/** A deep copy of `v` with every string that holds a private key replaced. */
export function redactKeys<T>(v: T): T {
  if (typeof v === "string") return (holdsKey(v) ? REDACTED : v) as T;
  if (Array.isArray(v)) return v.map((x) => redactKeys(x)) as T;
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = redactKeys(x);
    return out as T;
  }
  return v;
}
