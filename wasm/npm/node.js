// Node ≥ 18: reads and instantiates the module synchronously at import.
import { readFileSync } from 'node:fs';
import { initSync } from './gen/edgeflag.js';

initSync({ module: readFileSync(new URL('./gen/edgeflag_bg.wasm', import.meta.url)) });

export * from './core.js';
export { createClient, eventsLink, retryAfterMs } from './client.js';
