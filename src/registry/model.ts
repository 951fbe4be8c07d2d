import type { Protocol, Resolution } from "../api/types.js";

export interface ServiceModelPort {
  name?: string;
  port: number;
  /** Number, or a container port name resolved per workload. */
  targetPort: number | string;
  protocol: Protocol;
}

/** A service as the mesh sees it: from a Kubernetes Service or one host of a ServiceEntry. */
export interface MeshService {
  /** "Service/ns/name" or "ServiceEntry/ns/name". */
  source: string;
  hostname: string;
  namespace: string;
  name: string;
  ports: ServiceModelPort[];
  /** Namespaces this service is visible to; "*" for all. */
  exportTo: "*" | ReadonlySet<string>;
  external: boolean;
  resolution: Resolution;
  /** Label selector picking mesh workloads (Service selector, ServiceEntry workloadSelector). */
  selector?: Record<string, string>;
  /** Its virtual addresses (a Service's clusterIP, a ServiceEntry's addresses; allocated when none: service-addresses.ts). */
  addresses: string[];
  /** Addresses given by a ServiceEntry's endpoints. */
  staticEndpoints: { address?: string; ports: Record<string, number>; labels: Record<string, string> }[];
}

export interface Workload {
  /** "ns/name" for the first instance; "ns/name-N" for later replicas. */
  id: string;
  /** The Pod, Deployment… this instance belongs to: "ns/name". */
  owner: string;
  ownerKind: string;
  namespace: string;
  name: string;
  replica: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  serviceAccount: string;
  /** trustDomain/ns/NS/sa/SA — AuthorizationPolicy's principal form. */
  principal: string;
  /** spiffe://trustDomain/ns/NS/sa/SA */
  spiffe: string;
  containerPorts: { name?: string; port: number }[];
  sidecar: boolean;
  gateway: boolean;
  /** The workload's IP: a WorkloadEntry's address, else a loopback address of its own. */
  address: string;
  /** The node that runs it (a pod template's nodeName); none: the control plane's own machine. */
  node?: string;
  /** What a node agent runs as its application, when the manifest says. */
  command?: string[];
}

export interface Endpoint {
  workload: Workload;
  /** The port the workload listens on (the resolved targetPort). */
  port: number;
  /** "workload:port": the name load balancing and outlier detection count it by (the engine's pick, the proxy's counts), made once with the endpoint. */
  name: string;
  service: MeshService;
  servicePort: ServiceModelPort;
}
