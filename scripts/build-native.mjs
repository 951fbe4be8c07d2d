// `npm install` builds the one native addon (native/original_dst.c: SO_ORIGINAL_DST for pods' transparent capture)
// with npm's own node-gyp against the headers of the Node that runs it: nothing is downloaded. Without a compiler
// the build fails loudly and the install goes on: loopback mode needs no addon, pod mode says it is missing.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const prefix = dirname(dirname(process.execPath));
const nodeGyp = [process.env.npm_config_node_gyp, join(prefix, "lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js")].find((p) => p && existsSync(p));
const nodedir = [process.env.npm_config_nodedir, prefix].find((d) => d && existsSync(join(d, "include/node/node_api.h")));
if (process.platform !== "linux") {
  console.log("zeromesh: not Linux, so no pods: the SO_ORIGINAL_DST addon is not built");
  process.exit(0);
}
if (!nodeGyp || !nodedir) {
  console.warn(`zeromesh: WARNING: cannot build native/original_dst (${!nodeGyp ? "npm's node-gyp not found" : "no Node headers (include/node/node_api.h) next to " + process.execPath}); pod mode will be unavailable`);
  process.exit(0);
}
const r = spawnSync(process.execPath, [nodeGyp, "rebuild", "--directory", join(root, "native"), `--nodedir=${nodedir}`], { encoding: "utf8" });
if (r.status !== 0) console.warn(`${r.stdout}${r.stderr}\nzeromesh: WARNING: building native/original_dst failed (see above); pod mode will be unavailable`);
else console.log("zeromesh: built native/original_dst (SO_ORIGINAL_DST for pod mode)");
