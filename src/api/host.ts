// Hostnames as Istio treats them: lower-case DNS names, optionally with a
// wildcard leading the first label (`*.example.com`, or the partial `*x.example.com`,
// `*-x.example.com` that Envoy matches as a suffix) or the bare `*`.

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Returns an error message, or undefined when `host` is a valid (possibly wildcard) DNS name. */
export function checkHost(host: string, opts: { wildcard?: boolean } = {}): string | undefined {
  if (host === "") return "host must not be empty";
  if (host === "*") return opts.wildcard === false ? "wildcard host is not allowed here" : undefined;
  if (host.length > 253) return `host "${host}" is longer than 253 characters`;
  if (host !== host.toLowerCase()) return `host "${host}" must be lower case`;
  if (host.startsWith("*") && opts.wildcard === false) return `wildcard host "${host}" is not allowed here`;
  if (host.slice(1).includes("*")) return `host "${host}" may only have a wildcard at the start of its first label ("*.example.com")`;
  const labels = host.replace(/\.$/, "").split(".");
  // Istio's IsWildcardDNS1123Label: "*", or "*" or "*-" before a DNS label.
  const first = labels[0]!.startsWith("*") ? labels[0]!.replace(/^\*-?/, "") : labels[0]!;
  if (labels[0] !== "*" && !LABEL.test(first)) return `host "${host}" is not a valid DNS name (label "${labels[0]}")`;
  for (const label of labels.slice(1)) {
    if (!LABEL.test(label)) return `host "${host}" is not a valid DNS name (label "${label}")`;
  }
  return undefined;
}

/** Does the (possibly wildcard) pattern host cover the concrete or wildcard host `name`? */
export function hostMatches(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern === name) return true;
  if (pattern.startsWith("*")) {
    // "*.example.com" and the partial "*x.example.com" alike: any longer name with that suffix.
    const suffix = pattern.slice(1);
    if (name.startsWith("*")) return name.slice(1).endsWith(suffix);
    return name.endsWith(suffix) && name.length > suffix.length;
  }
  return false;
}

/** Two hosts overlap when either covers the other (used to bind VirtualServices to servers). */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/** The more specific of two overlapping hosts. */
export function narrowerHost(a: string, b: string): string {
  return hostMatches(a, b) ? b : a;
}

/** Strips the port from a Host/authority header value, and lower-cases it. */
export function hostWithoutPort(authority: string): string {
  const a = authority.toLowerCase();
  if (a.startsWith("[")) return a.slice(0, a.indexOf("]") + 1);
  const i = a.lastIndexOf(":");
  return i > 0 && allDigits(a, i + 1) ? a.slice(0, i) : a;
}

/** Whether `s` from `from` on is one or more ASCII digits (no slice and no regex: this runs for every request). */
function allDigits(s: string, from: number): boolean {
  if (from >= s.length) return false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
