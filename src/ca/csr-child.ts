// Certificate requests made in a short-lived child process. The X.509
// library is the largest thing a proxy would otherwise keep resident (about
// 20 MB measured, of a sidecar's memory) for work it does only at start and
// at each rotation; a child that exits gives that memory back.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const SELF = fileURLToPath(import.meta.url);
/** Generous: a cold Node start plus key generation, on a busy machine. */
const CHILD_TIMEOUT_MS = 30_000;

export interface CsrAndKey {
  csrPem: string;
  keyPem: string;
}

/** A fresh key and a CSR for `uri`, made by a child process; the key reaches only this process, over a pipe. */
export function createCsrInChild(uri: string): Promise<CsrAndKey> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SELF, uri], { timeout: CHILD_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ZM_CSR_FAILED: the certificate request could not be made (${stderr.trim() || err.message})`));
      try {
        const r = JSON.parse(stdout) as CsrAndKey;
        if (!r.csrPem?.includes("CERTIFICATE REQUEST") || !r.keyPem?.includes("PRIVATE KEY")) throw new Error("incomplete output");
        resolve(r);
      } catch (e) {
        reject(new Error(`ZM_CSR_FAILED: the certificate request process printed no request (${(e as Error).message})`));
      }
    });
  });
}

if (process.argv[1] === SELF) {
  const uri = process.argv[2];
  if (!uri) {
    process.stderr.write("usage: csr-child.js SPIFFE-URI\n");
    process.exit(2);
  }
  // Imported here only: the parent must not load the library this file keeps out of it.
  const { createCsr } = await import("./x509.js");
  process.stdout.write(JSON.stringify(await createCsr(uri)));
}
