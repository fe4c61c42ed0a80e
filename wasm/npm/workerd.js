// Cloudflare Workers (workerd) and other runtimes that refuse to compile
// WebAssembly from bytes at run time: the module is imported as a compiled
// WebAssembly.Module (wrangler: the "workerd" export condition; a raw workerd
// config: list gen/edgeflag_bg.wasm as a `wasm` module).
import wasmModule from './gen/edgeflag_bg.wasm';
import { initSync } from './gen/edgeflag.js';

initSync({ module: wasmModule });

export * from './core.js';
export { createClient, eventsLink, retryAfterMs, redirectRefusal, FetchEventSource } from './client.js';
