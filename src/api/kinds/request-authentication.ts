import type { Reader } from "../reader.js";
import type { Origin, RequestAuthentication } from "../types.js";
import { readMeta, readSelector } from "./meta.js";

export function readRequestAuthentication(doc: Reader, origin: Origin): RequestAuthentication {
  const meta = readMeta(doc, true);
  const spec = doc.field("spec").object(["selector", "targetRef", "targetRefs", "jwtRules"]);
  const sel = spec.field("selector").object(["matchLabels"]);
  const jwtRules = spec.field("jwtRules").list().map((j) => {
    j.object(["issuer", "audiences", "jwksUri", "jwks", "fromHeaders", "fromParams", "outputPayloadToHeader", "forwardOriginalToken", "outputClaimToHeaders", "fromCookies", "timeout"]);
    const jwksUri = j.field("jwksUri").string();
    if (jwksUri && !/^https?:\/\//.test(jwksUri)) j.field("jwksUri").error(`"${jwksUri}" must be an http(s) URL`);
    return { issuer: j.field("issuer").string({ required: true }) ?? "", jwksUri, audiences: j.field("audiences").strings() };
  });
  return { kind: "RequestAuthentication", meta, origin, selector: sel.present ? readSelector(sel.field("matchLabels")) ?? {} : undefined, jwtRules };
}
