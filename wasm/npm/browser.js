// Browsers and bundlers: fetches and instantiates the module next to this file
// (`new URL(…, import.meta.url)` is understood by Vite, webpack 5, esbuild, Rollup).
import init from './gen/edgeflag.js';

await init({ module_or_path: new URL('./gen/edgeflag_bg.wasm', import.meta.url) });

export * from './core.js';
// A page is public: its clients take only client rulesets (`<env>.client/current.efr`:
// client-side flags, user ids hashed) unless given `rulesets: 'any'`.
export { createClient, eventsLink, retryAfterMs, redirectRefusal, FetchEventSource } from './client.js';
