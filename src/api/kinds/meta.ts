import type { Reader } from "../reader.js";
import type { Meta } from "../types.js";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function checkName(name: string): string | undefined {
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) return `"${name}" is not a valid name (lower-case DNS subdomain)`;
  return undefined;
}

export function checkNamespaceName(name: string): string | undefined {
  if (name.length > 63 || !DNS1123_LABEL.test(name)) return `"${name}" is not a valid namespace name (lower-case DNS label)`;
  return undefined;
}

/** Reads metadata; a namespaced object without a namespace lands in "default", as kubectl does. */
export function readMeta(doc: Reader, namespaced: boolean, defaultNamespace = "default"): Meta {
  const m = doc.field("metadata");
  m.object();
  const nameR = m.field("name");
  const name = nameR.string({ required: true }) ?? "";
  if (name) {
    const err = checkName(name);
    if (err) nameR.error(err);
  }
  let namespace = "";
  if (namespaced) {
    const nsR = m.field("namespace");
    namespace = nsR.string() ?? defaultNamespace;
    const err = checkNamespaceName(namespace);
    if (err) nsR.error(err);
  }
  return { name, namespace, labels: m.field("labels").stringMap(), annotations: m.field("annotations").stringMap() };
}

export function readSelector(r: Reader): Record<string, string> | undefined {
  if (!r.present) return undefined;
  return r.stringMap();
}

/** `exportTo` values: ".", "*", "~" or namespace names. */
export function readExportTo(r: Reader): string[] {
  const values = r.strings();
  values.forEach((v, i) => {
    if (v !== "." && v !== "*" && v !== "~" && checkNamespaceName(v)) r.error(`"${v}" must be ".", "*", "~" or a namespace name`, `${r.path}[${i}]`);
  });
  if (values.includes("*") && values.length > 1) r.error(`"*" must not be combined with other values`);
  return values;
}
