// HTTP/2 streams this proxy reset itself (a refusal, an upstream failure), told apart from resets its client sent:
// only the client's count toward rapid reset (http-front.ts).
const local = new WeakSet<object>();

/** Resets a server stream from this side, marked as ours. */
export function resetLocally(stream: { close(code?: number): void }, code: number): void {
  local.add(stream);
  stream.close(code);
}

export const resetLocallyBefore = (stream: object): boolean => local.has(stream);
