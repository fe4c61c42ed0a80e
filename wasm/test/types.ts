// Compile-only check of npm/index.d.ts (`tsc -p test/tsconfig.json`): the
// documented usage type-checks under --strict, and misuse does not.
import {
  createClient, FetchEventSource, Context, Ruleset, DecodeError, KeyError, TrustedKeys, redirectRefusal,
  type Detail, type ClientStatus, type ClientErrorKind, type RulesetKind,
} from '@edgeflag/evaluator';

declare const bytes: Uint8Array;

const rules: Ruleset = Ruleset.fromBytes(bytes);
const ctx = new Context({ key: 'user-7', country: 'FR', seats: 5, groups: ['beta', 2], gone: null });
const on: boolean = rules.boolValue('new-checkout', ctx, false);
const rate: number = rules.numberValue('job-skip-rate', { key: 'w1' }, 0);
const name: string = rules.stringValue('theme', ctx, 'light');
const detail: Detail = rules.evaluate('new-checkout', ctx);
if (detail.reason.kind === 'RULE_MATCH') {
  const id: string | null = detail.reason.rule_id;
  void id;
}
const all: Record<string, Detail> = rules.allFlags(ctx);
const version: number = rules.version;
const epoch: number = rules.epoch;
const checksum: string = rules.checksum;
const replaces: boolean = rules.checkReplaces(null, 'production') && rules.checkReplaces(rules);
const environment: string = rules.environment;

const client = createClient({ url: 'https://flags.example.com/production/current.efr', pollIntervalMs: 10_000 });
const behind: number | undefined = client.status().originBehind?.served.epoch;
const refused: number = client.status().refusedOlder;
const off: () => void = client.onChange((next: Ruleset, previous: Ruleset | null) => { void next; void previous; });
client.status() satisfies ClientStatus;
void client.ready().then((r: Ruleset) => r.version);

try {
  Ruleset.fromBytes(bytes);
} catch (e) {
  if (e instanceof DecodeError) {
    const kind: string = e.kind;
    void kind;
  }
}

// @ts-expect-error: a flag key is a string
rules.boolValue(42, ctx, false);
// @ts-expect-error: objects are not attribute values
new Context({ key: 'u', nested: { a: 1 } });
// @ts-expect-error: url is required
createClient({ pollIntervalMs: 5 });

void [on, rate, name, all, version, environment, off, epoch, checksum, replaces, behind, refused];

// FetchEventSource's reconnection options.
new FetchEventSource('http://127.0.0.1:9/e', { minReconnectMs: 1000, maxReconnectMs: 60_000, stableMs: 30_000, random: Math.random }).close();
// @ts-expect-error a number, not a string
new FetchEventSource('http://127.0.0.1:9/e', { minReconnectMs: '1s' });
createClient({ url: '/production/current.efr', maxRulesetBytes: 1 << 20, minEventRefreshMs: 250 });

// Signatures, expiry and the network bounds.
const keys: TrustedKeys = TrustedKeys.parse(['edgeflag-ed25519-public:00']);
const ids: readonly string[] = keys.ids;
const signedBy: string | null = rules.signedBy;
const expiresAt: number | null = rules.expiresAt;
const expired: boolean = rules.isExpired() || rules.isExpired(Date.now());
const ok: boolean = rules.checkReplaces(null, 'production', { trustedKeys: keys, now: Date.now() });
const trusting = createClient({
  url: '/production/current.efr',
  publicKeys: ['edgeflag-ed25519-public:00'],
  fetchTimeoutMs: 10_000,
  eventIdleTimeoutMs: 45_000,
  redirects: 'same-origin',
});
createClient({ url: '/production/current.efr', publicKeys: 'edgeflag-ed25519-public:00\nedgeflag-ed25519-public:11' });
createClient({ url: '/production/current.efr', publicKeys: keys });
const st: ClientStatus = trusting.status();
const verified: boolean = st.verified;
const stale: boolean = st.stale;
const why: string | null = st.lastErrorKind;
const refusal: string | null = redirectRefusal('any', 'https://a/x', 'http://a/x');
try {
  TrustedKeys.parse('x');
} catch (e) {
  if (e instanceof KeyError) void e.kind;
}
// @ts-expect-error not a redirect policy
createClient({ url: '/production/current.efr', redirects: 'sometimes' });
// @ts-expect-error trustedKeys must be parsed first
rules.checkReplaces(null, null, { trustedKeys: ['edgeflag-ed25519-public:00'] });
void [ids, signedBy, expiresAt, expired, ok, verified, stale, why, refusal, st.signedBy, st.expiresAt, st.eventsRefused];

// Client rulesets: the client option, the ruleset getter, the refusal kind.
const browserClient = createClient({ url: 'https://flags.example.com/production.client/current.efr', rulesets: 'client' });
createClient({ url: '/production/current.efr', rulesets: 'any' });
const isClient: boolean = rules.isClient;
const refusedKind: ClientErrorKind | null = browserClient.status().lastErrorKind;
const kindOfRulesets: RulesetKind = 'any';
// @ts-expect-error not a ruleset kind
createClient({ url: '/production/current.efr', rulesets: 'server' });
// @ts-expect-error isClient is read-only
rules.isClient = true;
void [isClient, refusedKind, kindOfRulesets];

