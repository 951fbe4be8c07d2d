// Builds the dashboard's static bundle (src/dashboard/ui → dist/dashboard/ui): one script with preact, htm,
// cytoscape and dagre in it, the page and the stylesheet. The dashboard server serves these files and nothing else.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src", "dashboard", "ui");
const out = join(root, "dist", "dashboard", "ui");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
for (const f of ["index.html", "app.css"]) copyFileSync(join(src, f), join(out, f));
