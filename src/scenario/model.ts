import type { ResourceKey } from "../store/store.js";

export type ExpectedError = "reset" | "refused" | "tls" | "timeout";
export const EXPECTED_ERRORS: readonly ExpectedError[] = ["reset", "refused", "tls", "timeout"];

export interface Expect {
  status?: number[];
  bodyContains?: string;
  /** None of these may appear in the body. */
  bodyNotContains?: string[];
  headers?: Record<string, string>;
  error?: ExpectedError;
  echo?: boolean;
}

export interface Probe {
  name: string;
  /** "outside", "node", or "namespace/name" of a Pod or Deployment. */
  from: string;
  /** `path` is the request target exactly as written in the URL (no client-side normalization). */
  url: { scheme: "http" | "https" | "tcp"; host: string; port: number; path: string; raw: string };
  /** Sent verbatim as the request line's target instead of the URL's path (absolute form, or anything a client could send). */
  requestTarget?: string;
  /** With `from: node`: connect straight to this workload instance's own address and port. */
  target?: { workload: string; port: number };
  method: string;
  headers: Record<string, string>;
  body?: string;
  via?: { namespace: string; service: string; port: number };
  ca?: string;
  clientCert?: string;
  send?: string;
  expect: Expect;
  /** Where it is written, e.g. "steps[1].probes[0]". */
  path: string;
}

export interface Step {
  index: number;
  name: string;
  mesh?: unknown;
  apply?: string;
  delete: ResourceKey[];
  probes: Probe[];
}

export interface CertificateSpec {
  name: string;
  hosts: string[];
  issuer: string;
  client: boolean;
  secret?: { namespace: string; name: string; withCa: boolean };
}

export interface AppSpec {
  workload: string;
  port: number;
  serve: "http" | "https" | "tcp-echo" | "ext-authz" | "ext-authz-grpc";
  certificate?: string;
  body?: string;
}

export interface Scenario {
  file: string;
  name: string;
  description?: string;
  mesh?: unknown;
  /** Resources text of included files (in order), then the file's own. */
  resources: { text: string; label: string }[];
  certificates: CertificateSpec[];
  /** `files`: documents the host serves (path → body, 200), e.g. a JWKS for a RequestAuthentication's jwksUri. */
  externals: { host: string; ports: number[]; files?: Record<string, string> }[];
  apps: AppSpec[];
  steps: Step[];
}
