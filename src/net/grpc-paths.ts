// The gRPC method the mesh calls or serves without loading its messages' codec.

/** Envoy's external authorization check (envoy.service.auth.v3.Authorization/Check). */
export const CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check";
