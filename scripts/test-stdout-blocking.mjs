// Loaded into every process of `npm test` (the runner and each test file's child): standard output made blocking
// when it is a pipe. A test file's child reports its verdicts to the runner over a pipe, and with --test-force-exit it
// calls process.exit() as soon as its tests are done; writes to a pipe are asynchronous on POSIX, so the last verdicts
// could be lost and the run still pass with fewer tests than ran (nodejs/node#64833: measured here, 395 to 415 of 415
// tests reported over five runs of dist/api, dist/policy and dist/store; 415 every time with this).
const handle = process.stdout._handle;
if (handle && typeof handle.setBlocking === "function") handle.setBlocking(true);
