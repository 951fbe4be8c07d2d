// Kubernetes kinds: read leniently (only what the mesh needs), like the
// API server would accept them.
import { X509Certificate } from "node:crypto";
import { selectProtocol } from "../protocol.js";
import type { Reader } from "../reader.js";
import type {
  ContainerPort, KubeService, Namespace, Origin, PodTemplate, Secret, ServiceAccount, ServicePort, TlsMaterial, WorkloadSource,
} from "../types.js";
import { readExportTo, readMeta } from "./meta.js";

export function readNamespace(doc: Reader, origin: Origin): Namespace {
  return { kind: "Namespace", meta: readMeta(doc, false), origin };
}

export function readServiceAccount(doc: Reader, origin: Origin): ServiceAccount {
  return { kind: "ServiceAccount", meta: readMeta(doc, true), origin };
}

export function readService(doc: Reader, origin: Origin): KubeService {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object();
  const ports: ServicePort[] = [];
  for (const p of spec.field("ports").list()) {
    p.object();
    const port = p.field("port").port({ required: true });
    if (port === undefined) continue;
    const name = p.field("name").string();
    const tp = p.field("targetPort");
    let targetPort: number | string = port;
    if (tp.present) targetPort = typeof tp.value === "string" && !/^\d+$/.test(tp.value) ? tp.value : (tp.port() ?? port);
    ports.push({
      name, port, targetPort,
      protocol: selectProtocol(name, p.field("appProtocol").string(), p.field("protocol").string()),
    });
  }
  const exportAnno = meta.annotations["networking.istio.io/exportTo"];
  return {
    kind: "Service", meta, origin, ports,
    selector: spec.field("selector").present ? spec.field("selector").stringMap() : undefined,
    clusterIP: spec.field("clusterIP").string(),
    exportTo: exportAnno ? exportAnno.split(",").map((s) => s.trim()).filter(Boolean) : [],
  };
}

function readPodSpec(spec: Reader, meta: Reader): PodTemplate {
  const ports: ContainerPort[] = [];
  const containers = spec.field("containers").list();
  const first = containers[0];
  const command = first ? [...first.field("command").strings(), ...first.field("args").strings()] : [];
  for (const c of containers) {
    for (const p of c.field("ports").list()) {
      const port = p.field("containerPort").port({ required: true });
      if (port !== undefined) ports.push({ port, name: p.field("name").string() });
    }
  }
  return {
    labels: meta.field("labels").stringMap(),
    annotations: meta.field("annotations").stringMap(),
    serviceAccount: spec.field("serviceAccountName").string() ?? spec.field("serviceAccount").string() ?? "default",
    ports,
    nodeName: spec.field("nodeName").string() ?? spec.field("nodeSelector").stringMap()["kubernetes.io/hostname"],
    command: command.length ? command : undefined,
  };
}

export function readWorkload(doc: Reader, origin: Origin, kind: WorkloadSource["kind"]): WorkloadSource {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object();
  if (kind === "Pod") {
    const template = readPodSpec(spec, doc.field("metadata"));
    return { kind, meta, origin, replicas: 1, template };
  }
  const tpl = spec.field("template").object();
  const template = readPodSpec(tpl.field("spec"), tpl.field("metadata"));
  const sel = spec.field("selector").field("matchLabels");
  if (sel.present) {
    for (const [k, v] of Object.entries(sel.stringMap())) {
      if (template.labels[k] !== v) sel.error(`selector ${k}=${v} does not match the pod template's labels`);
    }
  }
  return { kind, meta, origin, replicas: spec.field("replicas").int({ min: 0 }) ?? 1, template };
}

export function readSecret(doc: Reader, origin: Origin): Secret {
  const meta = readMeta(doc, true);
  const data: Record<string, string> = {};
  const dataR = doc.field("data");
  for (const k of dataR.keys()) {
    const v = dataR.field(k).string();
    if (v === undefined) continue;
    if (!/^[A-Za-z0-9+/=\s]*$/.test(v)) {
      dataR.field(k).error("must be base64-encoded");
      continue;
    }
    data[k] = Buffer.from(v, "base64").toString("utf8");
  }
  const sd = doc.field("stringData");
  for (const k of sd.keys()) {
    const v = sd.field(k).string();
    if (v !== undefined) data[k] = v;
  }
  const type = doc.field("type").string() ?? "Opaque";
  return { kind: "Secret", meta, origin, type, data, tls: readTls(data, dataR) };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Parses PEM bundles into certificates; a Secret with unparsable PEM is reported, not fatal. */
export function parsePemCerts(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERT) ?? []).map((block) => new X509Certificate(block));
}

function readTls(data: Record<string, string>, at: Reader): TlsMaterial | undefined {
  const certPem = data["tls.crt"] ?? data["cert"];
  const caPem = data["ca.crt"] ?? data["cacert"];
  if (!certPem && !caPem) return undefined;
  try {
    const chain = certPem ? parsePemCerts(certPem) : [];
    if (certPem && chain.length === 0) at.error("tls.crt holds no PEM certificate", `${at.path}.tls.crt`);
    return { chain, certPem, keyPem: data["tls.key"] ?? data["key"], ca: caPem ? parsePemCerts(caPem) : [], caPem };
  } catch (e) {
    at.error(`certificate does not parse: ${(e as Error).message}`);
    return undefined;
  }
}

export { readExportTo };
