// Envoy's own API definitions, as @grpc/grpc-js-xds ships them (a dev
// dependency): tests check the mesh's ext_authz messages against them.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const xdsDeps = join(dirname(createRequire(import.meta.url).resolve("@grpc/grpc-js-xds/package.json")), "deps");
/** Envoy's Authorization service, from Envoy's API definitions. */
export function envoyAuthorizationService(): grpc.ServiceDefinition {
  const def = loadSync("envoy/service/auth/v3/external_auth.proto", {
    includeDirs: ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(xdsDeps, d)), keepCase: true, longs: Number, defaults: false, oneofs: true,
  });
  return (grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { auth: { v3: { Authorization: { service: grpc.ServiceDefinition } } } } } }).envoy.service.auth.v3.Authorization.service;
}

