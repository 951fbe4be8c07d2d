// Stable error codes. Each says what went wrong and what to check; tools and
// users match on the code, never on the message text.
export const Codes = {
  YAML: "ZM_YAML_SYNTAX",
  INVALID: "ZM_INVALID_RESOURCE",
  DUPLICATE: "ZM_DUPLICATE_RESOURCE",
  UNKNOWN_KIND: "ZM_UNKNOWN_KIND",
  NOT_FOUND: "ZM_NOT_FOUND",
  SCENARIO: "ZM_INVALID_SCENARIO",
  USAGE: "ZM_USAGE",
  IO: "ZM_IO",
  SETTING: "ZM_INVALID_SETTING",
  CA_PLUGIN: "ZM_CA_PLUGIN_INVALID",
  CA_CSR: "ZM_CA_CSR_INVALID",
  CA_IDENTITY: "ZM_CA_IDENTITY_MISMATCH",
  BOOTSTRAP: "ZM_BOOTSTRAP_REJECTED",
  ADMIN_AUTH: "ZM_ADMIN_UNAUTHENTICATED",
  TOO_LARGE: "ZM_REQUEST_TOO_LARGE",
  BAD_MESSAGE: "ZM_BAD_MESSAGE",
  NO_PODS: "ZM_PODS_UNAVAILABLE",
  POD: "ZM_POD_FAILED",
  NODE: "ZM_NODE_REJECTED",
} as const;
export type Code = (typeof Codes)[keyof typeof Codes];

/** Where in the user's input a problem sits: `file#doc kind/ns/name spec.path`. */
export interface Location {
  file: string;
  /** 1-based index of the YAML document in its file. */
  doc: number;
  kind?: string;
  namespace?: string;
  name?: string;
  path?: string;
}

export interface Issue {
  code: Code;
  severity: "error" | "warning";
  at: Location;
  message: string;
}

export function formatLocation(at: Location): string {
  let s = `${at.file}#${at.doc}`;
  if (at.kind) s += ` ${at.kind}/${at.namespace ? at.namespace + "/" : ""}${at.name ?? "?"}`;
  if (at.path) s += ` ${at.path}`;
  return s;
}

export function formatIssue(i: Issue): string {
  const sev = i.severity === "warning" ? "warning: " : "";
  return `${formatLocation(i.at)}: ${sev}${i.message} [${i.code}]`;
}

/** An error with a stable code, thrown across module boundaries. */
export class ZmError extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
    this.name = "ZmError";
  }
}

export function errorsOf(issues: Issue[]): Issue[] {
  return issues.filter((i) => i.severity === "error");
}
