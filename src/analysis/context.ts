// What an analyzer sees (the objects, by kind; the mesh config) and how it
// reports: a message of one of Istio's types about one object.
import { MESSAGES, type MessageName } from "./messages.js";
import { friendlyName, groupOf, type AnalysisObject } from "./objects.js";

export interface Message {
  type: MessageName;
  code: string;
  level: "Error" | "Warning" | "Info";
  /** "Kind ns/name" of the object it is about, if any. */
  origin?: string;
  reference?: string;
  message: string;
  analyzer: string;
}

/** The meshConfig fields analyzers read, with Istio's defaults. */
export interface AnalysisMesh {
  rootNamespace: string;
  ingressControllerMode: string;
  ingressService: string;
  ingressSelector?: string;
  defaultProviders: { accessLogging?: string[] };
  extensionProviders: { name: string; [k: string]: unknown }[];
  /** The raw meshConfig, for analyzers that read more. */
  raw: Record<string, any>;
}

export function analysisMesh(raw: Record<string, any> = {}): AnalysisMesh {
  return {
    rootNamespace: typeof raw.rootNamespace === "string" && raw.rootNamespace ? raw.rootNamespace : "istio-system",
    ingressControllerMode: typeof raw.ingressControllerMode === "string" && raw.ingressControllerMode ? raw.ingressControllerMode : "STRICT",
    ingressService: typeof raw.ingressService === "string" && raw.ingressService ? raw.ingressService : "istio-ingressgateway",
    ingressSelector: typeof raw.ingressSelector === "string" ? raw.ingressSelector : undefined,
    defaultProviders: typeof raw.defaultProviders === "object" && raw.defaultProviders ? raw.defaultProviders : {},
    extensionProviders: Array.isArray(raw.extensionProviders) ? raw.extensionProviders : [],
    raw,
  };
}

/** Go's fmt verbs as Istio's templates use them. */
export function goFormat(template: string, args: unknown[]): string {
  let i = 0;
  const show = (v: unknown): string => (Array.isArray(v) ? `[${v.map(show).join(" ")}]` : String(v));
  return template.replace(/%([sqdv%])/g, (_, verb: string) => {
    if (verb === "%") return "%";
    const v = args[i++];
    if (verb === "q") return Array.isArray(v) ? `[${v.map((x) => JSON.stringify(String(x))).join(" ")}]` : JSON.stringify(String(v));
    return show(v);
  });
}

/** The objects by kind (and API group, where two groups share a kind name). */
export class Objects {
  private readonly byKind = new Map<string, AnalysisObject[]>();
  constructor(readonly all: AnalysisObject[]) {
    for (const o of all) {
      const key = o.kind === "Gateway" && groupOf(o.apiVersion) === "gateway.networking.k8s.io" ? "k8s/Gateway" : o.kind;
      const list = this.byKind.get(key) ?? [];
      list.push(o);
      this.byKind.set(key, list);
    }
  }
  /** Istio's Gateway is "Gateway"; the Gateway API's is "k8s/Gateway". */
  of(kind: string): AnalysisObject[] {
    return this.byKind.get(kind) ?? [];
  }
  find(kind: string, namespace: string, name: string): AnalysisObject | undefined {
    return this.of(kind).find((o) => o.name === name && o.namespace === namespace);
  }
}

export class Context {
  readonly messages: Message[] = [];
  analyzer = "";
  constructor(readonly objects: Objects, readonly mesh: AnalysisMesh) {}

  report(type: MessageName, about: AnalysisObject | undefined, ...args: unknown[]): void {
    const t = MESSAGES[type];
    this.messages.push({ type, code: t.code, level: t.level, origin: about ? friendlyName(about) : undefined, reference: about?.reference, message: goFormat(t.template, args), analyzer: this.analyzer });
  }
}

export interface Analyzer {
  /** Istio's name for it (its Metadata().Name), e.g. "gateway.IngressGatewayPortAnalyzer". */
  name: string;
  description: string;
  analyze(ctx: Context): void;
}
