// undici's Pool, loaded on its own. undici's index also loads fetch,
// WebSocket, caches and more that a proxy never uses (about 9 MB resident,
// measured); the Pool module alone is what proxies need. The path is undici's
// own file layout, so package.json pins undici's exact version.
import { createRequire } from "node:module";
import type { Pool as UndiciPool } from "undici";

export const Pool = createRequire(import.meta.url)("undici/lib/dispatcher/pool.js") as typeof UndiciPool;
export type Pool = UndiciPool;
