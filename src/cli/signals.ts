/** Resolves when the process is asked to stop (Ctrl-C or SIGTERM): long-running commands wait on it, then clean up. */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}
