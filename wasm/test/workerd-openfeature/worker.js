// The server provider in an edge function (the worker of openfeature-workerd.test.mjs):
// OpenFeature (@openfeature/server-sdk) over the workerd entry's client, revalidated at most every MAX_AGE_MS.
// GET /?flag=banner&type=boolean&context={"targetingKey":"u1","country":"DE"}
//   → the SDK's evaluation details, the provider status and the events seen.
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
// (This module is named edgeflag/openfeature/worker.js in config.capnp.)
import { createClient } from '../workerd.js';
import { EdgeflagProvider } from './server.js';

let setup = null; // per isolate
const events = [];

const METHOD = { boolean: 'getBooleanDetails', string: 'getStringDetails', number: 'getNumberDetails', object: 'getObjectDetails' };
const DEFAULT = { boolean: false, string: 'dflt', number: -1, object: { dflt: true } };

export default {
  async fetch(request, env) {
    setup ??= (async () => {
      const client = createClient({ url: env.RULESET_URL, pollIntervalMs: 0, events: false });
      for (const type of [ProviderEvents.Ready, ProviderEvents.ConfigurationChanged, ProviderEvents.Stale, ProviderEvents.Error]) {
        OpenFeature.addHandler(type, (e) => events.push({ type, version: e?.metadata?.version ?? null }));
      }
      await OpenFeature.setProviderAndWait(new EdgeflagProvider(client, { initTimeoutMs: 10_000 }));
      return client;
    })();
    const client = await setup;
    await client.revalidate(Number(env.MAX_AGE_MS ?? '1000'));
    const params = new URL(request.url).searchParams;
    const type = params.get('type') ?? 'boolean';
    if (!METHOD[type]) return Response.json({ error: `unknown type ${type}` }, { status: 400 });
    const of = OpenFeature.getClient();
    const d = await of[METHOD[type]](params.get('flag') ?? 'banner', DEFAULT[type], JSON.parse(params.get('context') ?? '{}'));
    return Response.json({ details: d, status: of.providerStatus, events, version: client.ruleset?.version ?? null });
  },
};
