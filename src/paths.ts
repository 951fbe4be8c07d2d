import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (where package.json, examples/ and test/ live), from dist/ or src/. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
