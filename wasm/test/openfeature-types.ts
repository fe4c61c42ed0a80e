// Compile-only check of npm/openfeature/*.d.ts (`tsc -p test/tsconfig.openfeature.json`,
// with @types/node, which the server SDK's declarations need): the providers are Providers
// of their SDKs under --strict, the README's quick starts type-check, misuse does not.
import {
  OpenFeature as ServerOpenFeature, ProviderEvents as ServerProviderEvents, type Provider as ServerProvider,
} from '@openfeature/server-sdk';
import { OpenFeature as WebOpenFeature, ProviderEvents, type Provider as WebProvider } from '@openfeature/web-sdk';
import { createClient, Ruleset, type Client } from '@edgeflag/evaluator';
import {
  EdgeflagProvider, attributesOf, openFeatureReason, InvalidContextError, type EdgeflagFlagMetadata,
} from '@edgeflag/evaluator/openfeature/server';
import { EdgeflagWebProvider } from '@edgeflag/evaluator/openfeature/web';

declare const bytes: Uint8Array;
const client: Client = createClient({ url: 'http://127.0.0.1:8080/production/current.efr' });

const server: ServerProvider = new EdgeflagProvider(client);
new EdgeflagProvider(Ruleset.fromBytes(bytes), { initTimeoutMs: 5_000 });
new EdgeflagProvider({ client });
new EdgeflagProvider({ ruleset: Ruleset.fromBytes(bytes) });
const web: WebProvider = new EdgeflagWebProvider(createClient({ url: '/production.client/current.efr' }));

// The quick starts of npm/README.md ("OpenFeature"), typed.
async function nodeQuickStart(): Promise<void> {
  const flags = createClient({ url: 'http://127.0.0.1:8080/production/current.efr' });
  await ServerOpenFeature.setProviderAndWait(new EdgeflagProvider(flags, { initTimeoutMs: 5000 }));
  const client = ServerOpenFeature.getClient();
  const on: boolean = await client.getBooleanValue('new-checkout', false, { targetingKey: 'user-7', country: 'DE' });
  client.addHandler(ServerProviderEvents.ConfigurationChanged, (e) => console.log('ruleset', e?.metadata?.version));
  const d = await client.getNumberDetails('max-items', 10, { targetingKey: 'user-7', address: { city: 'Berlin' } });
  const n: number = d.value;
  const variant: string | undefined = d.variant;
  const edgeflagReason = d.flagMetadata.reason;
  void [on, n, variant, edgeflagReason, server];
}

async function browserQuickStart(): Promise<void> {
  const flags = createClient({ url: 'https://flags.example.com/production.client/current.efr' });
  await WebOpenFeature.setProviderAndWait(new EdgeflagWebProvider(flags), { targetingKey: 'user-7', country: 'FR' });
  const client = WebOpenFeature.getClient();
  const on: boolean = client.getBooleanValue('new-checkout', false);
  await WebOpenFeature.setContext({ targetingKey: 'user-8' });
  client.addHandler(ProviderEvents.ConfigurationChanged, (e) => console.log(e?.flagsChanged));
  const cfg = client.getObjectDetails('checkout-config', { steps: 1 });
  void [on, cfg.value, web];
}
void [nodeQuickStart, browserQuickStart];

const attrs = attributesOf({ targetingKey: 'u1', address: { city: 'Berlin' } });
const key: string | undefined = attrs.key;
const meta: EdgeflagFlagMetadata = { reason: 'RULE_MATCH', rule_index: 0, version: 1, epoch: 0, environment: 'production' };
void [key, meta, openFeatureReason, InvalidContextError];

// @ts-expect-error a URL is not a source: pass a client or a Ruleset
new EdgeflagProvider('http://127.0.0.1:8080/production/current.efr');
// @ts-expect-error web resolves are synchronous
const p: Promise<unknown> = web.resolveBooleanEvaluation('f', false, {}, console as never);
// @ts-expect-error not an option
new EdgeflagWebProvider(client, { pollMs: 5 });
void p;
