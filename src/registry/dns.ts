// Kubernetes DNS name forms, as a pod's resolver expands them.

export const CLUSTER_DOMAIN = "cluster.local";

export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

/**
 * The fully-qualified names a lookup of `name` from a pod in `namespace`
 * may mean, most specific first (`svc`, `svc.ns`, `svc.ns.svc`, FQDN, or an
 * outside name).
 */
export function candidateNames(name: string, namespace: string): string[] {
  const n = name.toLowerCase().replace(/\.$/, "");
  const parts = n.split(".");
  const out: string[] = [];
  if (parts.length === 1) out.push(serviceFqdn(n, namespace));
  if (parts.length === 2) out.push(`${n}.svc.${CLUSTER_DOMAIN}`);
  if (parts.length === 3 && parts[2] === "svc") out.push(`${n}.${CLUSTER_DOMAIN}`);
  out.push(n);
  return out;
}

/** A host as written in config (VirtualService destination, VS hosts), made an FQDN relative to a namespace. */
export function resolveConfigHost(host: string, namespace: string): string {
  if (host.includes("*")) return host;
  return host.includes(".") ? host : serviceFqdn(host, namespace);
}
