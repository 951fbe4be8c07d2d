// Every setting of the running mesh, declared once: name, environment
// variable, default, description and parser. Parsed at start-up and passed in.
import { Codes, ZmError } from "../api/errors.js";

interface Spec<T> {
  env: string;
  default: string;
  description: string;
  parse: (raw: string) => T;
}

/** "500ms", "30s", "10m", "24h" in milliseconds; anything else throws. */
export function parseDuration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw.trim());
  if (!m) throw new Error(`"${raw}" is not a duration like 500ms, 30s, 10m or 24h`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms"];
}

function ratio(raw: string): number {
  const n = Number(raw);
  if (!(n > 0 && n < 1)) throw new Error(`"${raw}" must be a number between 0 and 1`);
  return n;
}

const text = (raw: string) => raw;

function megabytes(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new Error(`"${raw}" must be a whole number of megabytes (0 to 256)`);
  return n;
}

/** A webhook receiver's URL: http(s) with a host. */
export const isWebhookUrl = (u: string) => /^https?:\/\/[^/\s]+/.test(u);

function webhookUrls(raw: string): string[] {
  const urls = raw.split(",").map((u) => u.trim()).filter(Boolean);
  for (const u of urls) if (!isWebhookUrl(u)) throw new Error(`"${u}" is not an http(s) URL`);
  return urls;
}

function onOff(raw: string): boolean {
  if (raw === "on" || raw === "true") return true;
  if (raw === "off" || raw === "false") return false;
  throw new Error(`"${raw}" must be on or off`);
}

export const SETTINGS = {
  stateDir: { env: "ZEROMESH_STATE_DIR", default: ".zeromesh", description: "Where the control plane keeps its CA keys, bootstrap secret and the endpoints it last knew.", parse: text },
  caDir: { env: "ZEROMESH_CA_DIR", default: "", description: "A plug-in CA in Istio's layout (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem); empty: a self-signed root in the state directory.", parse: text },
  workloadCertTtl: { env: "ZEROMESH_WORKLOAD_CERT_TTL", default: "24h", description: "Lifetime of workload certificates.", parse: parseDuration },
  rotateAt: { env: "ZEROMESH_ROTATE_AT", default: "0.5", description: "Fraction of a certificate's lifetime after which the proxy rotates it (Istio's grace period ratio).", parse: ratio },
  adminTokenFile: { env: "ZEROMESH_ADMIN_TOKEN_FILE", default: "", description: "The admin API's credential (a bearer token, mode 0600); empty: admin.token in the state directory. zeromesh up writes it, the CLI reads it.", parse: text },
  admin: { env: "ZEROMESH_ADMIN", default: "127.0.0.1:15014", description: "The control plane's admin API (loopback), used by apply, get, proxy-status and proxy-config.", parse: text },
  proxySemiSpaceMb: { env: "ZEROMESH_PROXY_SEMI_SPACE_MB", default: "2", description: "V8's young-generation semi-space for proxy processes the mesh starts (MB; 0 keeps V8's default). Small keeps a sidecar's memory down; measured with npm run bench, it did not cost CPU.", parse: megabytes },
  proxyShrinkWhenIdle: { env: "ZEROMESH_PROXY_SHRINK_WHEN_IDLE", default: "off", description: "Let V8 shrink an idle proxy's heap (its memory reducer). It also throws compiled code away, so the first seconds of traffic after a pause run cold: measured p99 after 16 s idle was 174-363 ms with it, 11 ms without; without it an idle sidecar keeps its busy-time memory (about 30 MB more).", parse: onOff },
  proxyParallelGc: { env: "ZEROMESH_PROXY_PARALLEL_GC", default: "off", description: "Let V8 collect a proxy's garbage on helper threads as well (parallel scavenges, concurrent marking). A sidecar shares its node's cores with the applications and the other sidecars: measured with npm run bench on 2 cores, off cut CPU per request by about a tenth (the node floor pair's too, which gets the same flags) and raised the mesh's throughput against the floor.", parse: onOff },
  endpointGrace: { env: "ZEROMESH_ENDPOINT_GRACE", default: "15s", description: "How long the control plane keeps serving a proxy's endpoints after its stream drops, or after the control plane itself restarts, while the proxy reconnects (it retries at least every 5 s). A proxy that stops says so and is withdrawn at once.", parse: parseDuration },
  alertWebhooks: { env: "ZEROMESH_ALERT_WEBHOOKS", default: "", description: "Webhook receivers (comma-separated http(s) URLs, e.g. Slack incoming webhooks) the control plane posts alerts to: egress blocked by REGISTRY_ONLY, and every change to what a workload may reach. zeromesh up --alert-webhook URL adds one.", parse: webhookUrls },
  jwksRefresh: { env: "ZEROMESH_JWKS_REFRESH", default: "20m", description: "How long a proxy uses a key set fetched from a RequestAuthentication's jwksUri before fetching it again (Istio's default refresh). A failed fetch is retried after 5 s; keys already fetched keep serving meanwhile.", parse: parseDuration },
  joinTtl: { env: "ZEROMESH_JOIN_TTL", default: "24h", description: "Lifetime of a node's join credential (zeromesh node-token): the node presents it on every call, so it also bounds how long a node runs before it needs a new one.", parse: parseDuration },
  bootstrapTtl: { env: "ZEROMESH_BOOTSTRAP_TTL", default: "5m", description: "Lifetime of a workload's bootstrap credential: it is good for one certificate, asked for right after the proxy starts.", parse: parseDuration },
} satisfies Record<string, Spec<unknown>>;

type Settings = { [K in keyof typeof SETTINGS]: ReturnType<(typeof SETTINGS)[K]["parse"]> };
export type { Settings };

/** Parses every setting from the environment (and overrides); an invalid value names the variable. */
export function loadSettings(env: Record<string, string | undefined> = process.env, overrides: Partial<Record<keyof Settings, string>> = {}): Settings {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [keyof Settings, Spec<unknown>][]) {
    const raw = overrides[key] ?? env[spec.env] ?? spec.default;
    try {
      out[key] = spec.parse(raw);
    } catch (e) {
      throw new ZmError(Codes.SETTING, `${spec.env}: ${(e as Error).message} (${spec.description})`);
    }
  }
  return out as Settings;
}

/** A table of the settings for `--help` output and docs. */
export function describeSettings(): string {
  return Object.values(SETTINGS).map((s) => `  ${s.env.padEnd(28)} default ${JSON.stringify(s.default).padEnd(12)} ${s.description}`).join("\n");
}

/** Node flags for a proxy process the mesh starts (sidecar or gateway). */
export function proxyNodeArgs(s: Pick<Settings, "proxySemiSpaceMb" | "proxyShrinkWhenIdle" | "proxyParallelGc">): string[] {
  return [
    ...(s.proxySemiSpaceMb ? [`--max-semi-space-size=${s.proxySemiSpaceMb}`] : []),
    ...(s.proxyShrinkWhenIdle ? [] : ["--no-memory-reducer"]),
    ...(s.proxyParallelGc ? [] : ["--single-threaded-gc"]),
  ];
}
