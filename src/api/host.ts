// Hostnames as Istio treats them: lower-case DNS names, optionally with a
// single leading wildcard label (`*.example.com`) or the bare `*`.

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Returns an error message, or undefined when `host` is a valid (possibly wildcard) DNS name. */
export function checkHost(host: string, opts: { wildcard?: boolean } = {}): string | undefined {
  if (host === "") return "host must not be empty";
  if (host === "*") return opts.wildcard === false ? "wildcard host is not allowed here" : undefined;
  if (host.length > 253) return `host "${host}" is longer than 253 characters`;
  if (host !== host.toLowerCase()) return `host "${host}" must be lower case`;
  let rest = host;
  if (host.startsWith("*.")) {
    if (opts.wildcard === false) return `wildcard host "${host}" is not allowed here`;
    rest = host.slice(2);
  } else if (host.includes("*")) {
    return `host "${host}" may only have a wildcard as its whole first label ("*.example.com")`;
  }
  for (const label of rest.replace(/\.$/, "").split(".")) {
    if (!LABEL.test(label)) return `host "${host}" is not a valid DNS name (label "${label}")`;
  }
  return undefined;
}

/** Does the (possibly wildcard) pattern host cover the concrete or wildcard host `name`? */
export function hostMatches(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern === name) return true;
  if (pattern.startsWith("*.")) {
    const suffix = pattern.slice(1); // ".example.com"
    if (name.startsWith("*.")) return name.slice(1).endsWith(suffix);
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
  return i > 0 && /^\d+$/.test(a.slice(i + 1)) ? a.slice(0, i) : a;
}
