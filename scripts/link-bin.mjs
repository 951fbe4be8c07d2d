// Links this package's own `zeromesh` command into node_modules/.bin, so that
// `npx zeromesh` works inside a clone (npm links only dependencies' commands).
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "node_modules", ".bin");
const target = join(root, "dist", "cli", "main.js");
const link = join(bin, "zeromesh");
mkdirSync(bin, { recursive: true });
if (existsSync(link)) rmSync(link);
symlinkSync(relative(bin, target), link);
chmodSync(target, 0o755);
