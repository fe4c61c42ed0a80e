// Cloudflare Workers (workerd) and other runtimes that refuse to compile
// WebAssembly from bytes at run time: the module is imported as a compiled
// WebAssembly.Module (wrangler: the "workerd" export condition; a raw workerd
// config: list gen/edgeflag_bg.wasm as a `wasm` module).
import wasmModule from './gen/edgeflag_bg.wasm';
import { initSync } from './gen/edgeflag.js';
import { createClientFor } from './client.js';

initSync({ module: wasmModule });

export * from './core.js';
// An edge function is trusted code (it runs on the operator's side): its clients
// may load server rulesets too (`rulesets: 'any'` by default).
export const createClient = createClientFor('any');
export { eventsLink, retryAfterMs, redirectRefusal, FetchEventSource } from './client.js';
