// The CA's side of the proxies' endpoint: who a caller is (a bootstrap credential, good for one certificate, or a
// current certificate of the instance it names), certificates for CSRs of the proven identity only, and the control
// plane's own serving certificate, rotated at half-life as the proxies rotate theirs.
import { X509Certificate, createHash } from "node:crypto";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import { Codes, ZmError } from "../api/errors.js";
import type { BootstrapClaim } from "../ca/bootstrap.js";
import { createCsr } from "../ca/x509.js";
import { Registry } from "../registry/registry.js";
import { CONTROL_SPIFFE_SUFFIX, WORKLOAD_HEADER, spiffeOf } from "../wire/protocol.js";
import { LIMITS, readJson } from "./limits.js";
import type { ProxyRecord } from "./push.js";
import type { ControlState } from "./shared.js";

export type ServingTls = { cert: string; key: string; ca: string };

/** Who is on the proxies' endpoint: a workload instance, proven by a bootstrap credential or its current certificate. */
export interface Caller {
  workload: string;
  spiffe: string;
  /** Present when the caller proved itself with a bootstrap credential (good for one certificate). */
  claim?: BootstrapClaim;
  /** The serial of the mesh certificate it presented, when it did. */
  serial?: string;
}

export class Certificates {
  private rotation?: NodeJS.Timeout;

  constructor(private readonly c: ControlState) {}

  stop(): void {
    clearTimeout(this.rotation);
  }

  authenticate(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Caller {
    const auth = headers["authorization"];
    if (typeof auth === "string" && auth.startsWith("Bearer ")) {
      const claim = this.c.opts.bootstrap.verify(auth.slice(7), new Date());
      return { workload: claim.workload, spiffe: claim.spiffe, claim };
    }
    // Reconnects and rotations: a current certificate from this mesh's CA proves the identity (the TLS stack checked
    // its chain to the mesh root and its validity: `authorized`); the header names the instance, and the certificate
    // must be one issued to that instance.
    const socket = stream.session?.socket as TLSSocket | undefined;
    const cert = socket?.getPeerX509Certificate();
    if (!cert) throw new ZmError(Codes.BOOTSTRAP, "present a bootstrap credential, or a workload certificate matching x-zeromesh-workload");
    if (!socket!.authorized) throw new ZmError(Codes.BOOTSTRAP, `the client certificate is not a valid certificate of this mesh (${socket!.authorizationError})`);
    const spiffe = spiffeOf(cert.raw);
    const workload = headers[WORKLOAD_HEADER];
    const w = typeof workload === "string" ? Registry.of(this.c.opts.store.snapshot()).workload(workload) : undefined;
    if (!spiffe || !w || w.spiffe !== spiffe) throw new ZmError(Codes.BOOTSTRAP, `the certificate's identity ${spiffe ?? "(none)"} is not the identity of workload ${String(workload)}`);
    if (!this.c.lineage.speaksFor(w.id, cert.serialNumber)) throw new ZmError(Codes.BOOTSTRAP, `certificate ${cert.serialNumber} was not issued to ${w.id} (another instance's, or one from before its last bootstrap)`);
    return { workload: w.id, spiffe, serial: cert.serialNumber };
  }

  /** One certificate per bootstrap credential (spent first, refunded if signing fails); renewals extend the instance's lineage. */
  async issue(stream: ServerHttp2Stream, caller: Caller): Promise<void> {
    const body = await readJson<{ csr?: unknown }>(stream, LIMITS.csrBytes);
    const csr = typeof body.csr === "string" ? body.csr : "";
    if (caller.claim) this.c.opts.bootstrap.spend(caller.claim, new Date(), createHash("sha256").update(csr).digest("base64url"));
    let issued;
    try {
      issued = await this.c.opts.ca.sign(csr, caller.spiffe);
    } catch (e) {
      if (caller.claim) this.c.opts.bootstrap.refund(caller.claim);
      throw e;
    }
    const cert = new X509Certificate(issued.certPem);
    // A bootstrap starts a new lineage: the instance's earlier certificates (a previous process's) open nothing any more.
    this.c.lineage.issued(caller.workload, cert.serialNumber, caller.claim !== undefined);
    if (caller.claim) for (const s of this.c.sessions.values()) if (s.record.id === caller.workload) s.stream.close();
    const record: ProxyRecord = this.c.proxies.get(caller.workload) ?? { id: caller.workload, connected: false, listeners: {} };
    record.certificate = { serial: cert.serialNumber, notBefore: cert.validFrom, notAfter: cert.validTo, spiffe: caller.spiffe };
    this.c.proxies.set(caller.workload, record);
    this.c.audit("certificate-issued", { proxy: caller.workload, spiffe: caller.spiffe, serial: cert.serialNumber, notAfter: issued.notAfter.toISOString(), proof: caller.claim ? "bootstrap" : `certificate ${caller.serial}` });
    stream.respond({ ":status": 200, "content-type": "application/json" });
    stream.end(JSON.stringify({ ...issued, notAfter: issued.notAfter.toISOString() }));
  }

  /** The control plane's own certificate, from its own CA, as short-lived as a workload's. */
  async serving(): Promise<{ tls: ServingTls; notAfter: Date }> {
    const spiffe = `spiffe://${this.c.opts.store.snapshot().mesh.trustDomain}${CONTROL_SPIFFE_SUFFIX}`;
    const { csrPem, keyPem } = await createCsr(spiffe);
    const issued = await this.c.opts.ca.sign(csrPem, spiffe);
    return { tls: { cert: issued.certPem + issued.chainPem, key: keyPem, ca: this.c.opts.ca.rootPem }, notAfter: issued.notAfter };
  }

  /** Rotates the serving certificate at half-life, as proxies do theirs: new connections get the new one. */
  rotateAt(notAfter: Date, apply: (tls: ServingTls) => void): void {
    const lifetime = notAfter.getTime() - Date.now();
    this.rotation = setTimeout(() => {
      this.serving().then((next) => {
        apply(next.tls);
        this.c.opts.audit?.({ time: new Date().toISOString(), event: "serving-certificate-rotated", notAfter: next.notAfter.toISOString() });
        this.rotateAt(next.notAfter, apply);
      }, (e: Error) => {
        this.c.opts.audit?.({ time: new Date().toISOString(), event: "serving-certificate-error", error: e.message });
        this.rotateAt(new Date(Date.now() + 2000), apply); // retry in about a second
      });
    }, Math.max(500, lifetime / 2));
    this.rotation.unref();
  }
}
