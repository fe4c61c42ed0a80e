// Node ≥ 18: reads and instantiates the module synchronously at import.
import { readFileSync } from 'node:fs';
import { initSync } from './gen/edgeflag.js';
import { defaults, FetchEventSource, createClientFor } from './client.js';

initSync({ module: readFileSync(new URL('./gen/edgeflag_bg.wasm', import.meta.url)) });

// Node has no global EventSource (before 22, and there behind a flag): the client
// reads the origin's event stream over fetch instead.
if (typeof globalThis.EventSource !== 'function') defaults.EventSource = FetchEventSource;

export * from './core.js';
// Node is a server (trusted code): its clients may load server rulesets too
// (`rulesets: 'any'` by default; browsers take only client rulesets).
export const createClient = createClientFor('any');
export { eventsLink, retryAfterMs, redirectRefusal, FetchEventSource } from './client.js';
