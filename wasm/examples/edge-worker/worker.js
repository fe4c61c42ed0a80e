// An edge function (Cloudflare Workers / workerd) that evaluates a flag per request.
//
// The ruleset is fetched from the origin (RULESET_URL, e.g. an `edgeflag serve`
// or a CDN in front of the bucket) and cached in the isolate between requests. A
// request older than MAX_AGE_MS since the last check revalidates it with
// If-None-Match first: usually a 304 with no body, so the cost is one small
// round trip every MAX_AGE_MS, not a download per request.
//
// PUBLIC_KEYS (one `edgeflag-ed25519-public:…` per line; two while rotating) is
// required: only rulesets signed by one of them are installed, so a CDN, a bucket
// or anyone on the path cannot serve flags. A refused download leaves the last
// good ruleset serving; the response says so (`refused`).
//
// GET /?flag=new-checkout&key=user-7&country=DE  →  {"flag":…,"detail":{…},…}
import { createClient, Context } from './edgeflag/workerd.js';

let client = null; // one per isolate, reused across requests

export default {
  async fetch(request, env) {
    if (!env.PUBLIC_KEYS?.trim()) {
      // Refuse to run unverified rather than serve whatever the network sends.
      return Response.json({ error: 'PUBLIC_KEYS is not configured' }, { status: 500 });
    }
    client ??= createClient({
      url: env.RULESET_URL,
      publicKeys: env.PUBLIC_KEYS,
      pollIntervalMs: 0, // no timers in an edge function: revalidate on requests
      events: false,
    });
    const maxAgeMs = Number(env.MAX_AGE_MS ?? '5000');
    const status = await client.revalidate(maxAgeMs);
    const rs = client.ruleset;
    if (!rs) {
      return Response.json({ error: 'no ruleset yet', status }, { status: 503 });
    }
    const params = new URL(request.url).searchParams;
    const flag = params.get('flag') ?? 'new-checkout';
    const attributes = {};
    for (const [name, value] of params) {
      if (name !== 'flag') attributes[name] = value;
    }
    let ctx;
    try {
      ctx = new Context(attributes);
    } catch (e) {
      return Response.json({ error: e.message }, { status: 400 });
    }
    const detail = rs.evaluate(flag, ctx);
    ctx.free();
    return Response.json(
      {
        flag, detail, version: rs.version, environment: rs.environment, etag: status.etag,
        signedBy: status.signedBy, stale: status.stale, refused: status.lastErrorKind,
      },
      { headers: { 'x-edgeflag-version': String(rs.version) } },
    );
  },
};
