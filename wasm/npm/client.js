// A polling client for one `<env>/current.efr` (docs/distribution.md, "Clients");
// in browsers, the client ruleset `<env>.client/current.efr`.
//
// - polls with If-None-Match; a 304 keeps the current ruleset;
// - swaps rulesets atomically (one assignment) and only forwards: a download that is
//   undecodable, truncated, failing its checksum, or refused by the evaluator's
//   acceptance policy (another environment, an older (epoch, version), the same
//   version with other content) is refused and the last good ruleset keeps serving;
//   an origin that serves an older ruleset is reported in `status.originBehind`;
// - after failures backs off exponentially with jitter, and honours Retry-After;
// - subscribes to the origin's push channel (Server-Sent Events) when the response
//   carries `Link: <…>; rel="edgeflag-events"` and an EventSource is available,
//   and fetches as soon as an event announces a newer version (at most one
//   announcement-triggered fetch per `minEventRefreshMs`, the rest coalesced);
// - with `publicKeys`, installs only rulesets signed by one of them (the
//   evaluator verifies); refuses rulesets that expired before they arrived, and
//   reports a held ruleset that expires as stale (it keeps serving);
// - bounds what the network may do: a download that does not complete within
//   `fetchTimeoutMs` is aborted, an event stream silent for `eventIdleTimeoutMs`
//   is dropped and reconnected, and redirects and the event-stream Link follow the
//   Rust client's policy (same origin only by default, never https → http);
// - with `rulesets: 'client'` (the browser entry's default), installs only client
//   rulesets (`<env>.client/current.efr`: client-side flags, user ids hashed); a
//   server ruleset is refused (SERVER_RULESET) like any other refusal.
import { Ruleset, DecodeError, TrustedKeys } from './core.js';

const MAX_BACKOFF_MS = 5 * 60_000;
/** The largest ruleset the format allows: a 64 MiB body and the 192-byte header. */
const MAX_RULESET_BYTES = 64 * 1024 * 1024 + 192;

/** Package-wide defaults an entry point may set (the Node entry sets EventSource). */
export const defaults = { EventSource: undefined };

/** Longest event-stream line, and longest event (its data lines), in characters. */
export const MAX_SSE_LINE = 64 * 1024;
export const MAX_SSE_EVENT = 64 * 1024;

/**
 * The incremental `text/event-stream` parser of FetchEventSource (exported from
 * this module for its tests, not from the package). `feed(bytes)` decodes UTF-8
 * across chunks, splits lines at CRLF, LF or CR (a CR at the end of a chunk waits
 * for the next one: it may be half of a CRLF) and reports, in stream order,
 * `onEvent(type, data)` for each dispatched event (type `message` when none was
 * named), `onId(id)` and `onRetry(ms)`. It throws when a line is longer than
 * MAX_SSE_LINE or an event's data longer than MAX_SSE_EVENT characters; the
 * stream is then abandoned with the parser.
 */
export class SseParser {
  constructor({ onEvent = () => {}, onId = () => {}, onRetry = () => {} } = {}) {
    this._onEvent = onEvent;
    this._onId = onId;
    this._onRetry = onRetry;
    this._decoder = new TextDecoder();
    this._eol = /\r\n|\r|\n/g;
    this._buf = '';
    this._event = { type: '', data: [], size: 0 };
  }

  /** The unfinished line's length, without a final CR that may be half of a CRLF. */
  _held() {
    return this._buf.length - (this._buf.endsWith('\r') ? 1 : 0);
  }

  /**
   * What the parser holds between chunks, in characters: the unfinished line
   * (without a final CR), the event's type and its data.
   */
  held() {
    return { line: this._held(), type: this._event.type.length, event: this._event.size };
  }

  feed(value) {
    const eol = this._eol;
    const text = this._decoder.decode(value, { stream: true });
    // Most chunks of a long line end no line: keep them apart and join them once,
    // when one does, so many small chunks cost linear time, not quadratic.
    if (!this._buf.endsWith('\r') && !/[\r\n]/.test(text)) {
      this._buf += text;
      if (this._held() > MAX_SSE_LINE) throw new Error(`event stream line longer than ${MAX_SSE_LINE} characters`);
      return;
    }
    let buf = this._buf + text;
    let event = this._event;
    let start = 0;
    let m;
    // The held part has no line end, except a final CR (maybe half of a CRLF).
    eol.lastIndex = Math.max(0, this._buf.length - 1);
    while ((m = eol.exec(buf)) !== null) {
      if (m[0] === '\r' && m.index === buf.length - 1) break; // maybe half of a CRLF
      const line = buf.slice(start, m.index);
      start = eol.lastIndex;
      if (line.length > MAX_SSE_LINE) throw new Error(`event stream line longer than ${MAX_SSE_LINE} characters`);
      if (line === '') {
        if (event.data.length) this._onEvent(event.type || 'message', event.data.join('\n'));
        event = this._event = { type: '', data: [], size: 0 };
        continue;
      }
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event.type = val;
      else if (field === 'data') {
        event.size += val.length + 1;
        if (event.size > MAX_SSE_EVENT) throw new Error(`event stream event longer than ${MAX_SSE_EVENT} characters`);
        event.data.push(val);
      } else if (field === 'id') this._onId(val);
      else if (field === 'retry' && /^\d+$/.test(val)) this._onRetry(Number(val));
    }
    buf = buf.slice(start);
    this._buf = buf;
    // A final CR may be half of a CRLF (see above): it is a line end, not content.
    if (this._held() > MAX_SSE_LINE) throw new Error(`event stream line longer than ${MAX_SSE_LINE} characters`);
  }
}

/** The values of the `redirects` option (the Rust client's `Redirects`). */
const REDIRECT_POLICIES = ['same-origin', 'any', 'none'];

/** The values of the `rulesets` option. */
const RULESET_KINDS = ['client', 'any'];

/**
 * The refusal of a server ruleset by a client taking only client rulesets:
 * `where` it came from (a URL, or the bootstrap) and where the client ruleset
 * of the same environment is published.
 */
function serverRulesetRefusal(rs, where) {
  const env = rs.environment;
  return new DecodeError('SERVER_RULESET', `${where} is a server ruleset (it lists user ids and server-only flags); ` +
    `browsers load ${env}.client/current.efr, published beside it; pass rulesets: 'any' to allow`);
}

/**
 * Why the client does not follow `next` from `first` (the URL configured), or
 * null when it does: the Rust client's `Redirects` rules, for redirects and for
 * the event stream a Link names. Never from https to http, whatever the policy;
 * `same-origin` (the default) allows only the scheme, host and port of `first`;
 * `any` any other https (or, from http, any) URL; `none` no redirect at all.
 */
export function redirectRefusal(policy, first, next, { isRedirect = true } = {}) {
  const a = new URL(first);
  const b = new URL(next);
  const refuse = (why) => `${isRedirect ? 'redirect' : 'event stream'} to ${b.href} refused: ${why}`;
  if (a.protocol === 'https:' && b.protocol !== 'https:') {
    return refuse('a redirect from https to http is never followed');
  }
  if (policy === 'any') return null;
  if (policy === 'none' && isRedirect) return refuse('the client follows no redirects (redirects: "none")');
  if (a.origin !== b.origin) {
    return refuse(`${b.origin} is another origin than ${a.origin} (redirects: "same-origin"; "any" allows it)`);
  }
  return null;
}

/**
 * A minimal EventSource over fetch and a streamed body, for runtimes without one
 * (Node). Dispatches `open`, `error` and named events with `{type, data,
 * lastEventId}`; reconnects until closed.
 *
 * Bounded against a hostile or broken stream: a line or an event longer than 64 Ki
 * characters closes the connection (an `error`, then a reconnection). Reconnections
 * wait the server's `retry` (default 3 s) but at least `minReconnectMs`, doubled
 * per consecutive failure up to `maxReconnectMs`, with "equal jitter"; a stream
 * that stayed open `stableMs` starts the count over.
 */
export class FetchEventSource {
  constructor(url, {
    fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
    minReconnectMs = 1000,
    maxReconnectMs = 60_000,
    stableMs = 30_000,
    random = Math.random,
    idleTimeoutMs = 45_000,
    redirects = 'same-origin',
  } = {}) {
    this.url = url;
    this._idleMs = idleTimeoutMs;
    this._redirects = redirects;
    this._fetch = fetchImpl;
    this._listeners = new Map();
    this._abort = null;
    this._closed = false;
    this._retryMs = 3000;
    this._minMs = minReconnectMs;
    this._maxMs = Math.max(maxReconnectMs, minReconnectMs);
    this._stableMs = stableMs;
    this._random = random;
    this._failures = 0;
    this._lastId = '';
    this._timer = null;
    this._connect();
  }

  addEventListener(type, f) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(f);
  }

  removeEventListener(type, f) {
    this._listeners.get(type)?.delete(f);
  }

  close() {
    this._closed = true;
    clearTimeout(this._timer);
    this._idle?.();
    this._abort?.abort();
  }

  _emit(type, ev) {
    for (const f of this._listeners.get(type) ?? []) {
      try { f({ type, ...ev }); } catch { /* a listener's error is its own */ }
    }
  }

  /** The wait before the next connection, after `this._failures` failures in a row. */
  _reconnectDelay() {
    const base = Math.max(this._minMs, this._retryMs);
    const cap = Math.min(this._maxMs, base * 2 ** Math.min(this._failures - 1, 20));
    return Math.max(this._minMs, cap / 2 + this._random() * (cap / 2));
  }

  async _connect() {
    if (this._closed) return;
    this._abort = new AbortController();
    let openedAt = null;
    let reader = null;
    try {
      const headers = { Accept: 'text/event-stream' };
      if (this._lastId) headers['Last-Event-ID'] = this._lastId;
      // The origin sends a comment every 15 s: a stream silent for idleTimeoutMs
      // is dead (a half-open connection, a stalled proxy) and is reconnected.
      const abort = this._abort;
      let idle = null;
      const watch = () => {
        clearTimeout(idle);
        if (!(this._idleMs > 0)) return;
        idle = setTimeout(() => abort.abort(new Error(`event stream idle for ${this._idleMs} ms`)), this._idleMs);
        idle?.unref?.();
      };
      watch();
      this._idle = () => clearTimeout(idle);
      const res = await this._fetch(this.url, { headers, signal: abort.signal });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      if (res.redirected && res.url) {
        const why = redirectRefusal(this._redirects, this.url, res.url);
        if (why) throw new Error(why);
      }
      openedAt = Date.now();
      this._emit('open', {});
      reader = res.body.getReader();
      const parser = new SseParser({
        onEvent: (type, data) => this._emit(type, { data, lastEventId: this._lastId }),
        onId: (id) => { this._lastId = id; },
        onRetry: (ms) => { this._retryMs = ms; },
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        watch();
        parser.feed(value);
      }
      throw new Error('stream ended');
    } catch (e) {
      this._idle?.();
      // An idle abort rejects with the AbortSignal's reason: report that.
      if (this._abort.signal.aborted && this._abort.signal.reason instanceof Error) e = this._abort.signal.reason;
      this._abort.abort(); // a refused stream is not read further
      reader?.cancel().catch(() => {});
      if (this._closed) return;
      if (openedAt !== null && Date.now() - openedAt >= this._stableMs) this._failures = 0;
      this._failures += 1;
      this._emit('error', { error: e });
      this._timer = setTimeout(() => this._connect(), this._reconnectDelay());
      this._timer?.unref?.();
    }
  }
}
const MIN_BACKOFF_MS = 1_000;

/** Whether an announced `{epoch, version}` is after the held ruleset's position. */
function newer(msg, held) {
  const epoch = typeof msg.epoch === 'number' ? msg.epoch : held.epoch;
  return epoch > held.epoch || (epoch === held.epoch && msg.version > held.version);
}

/**
 * The body of `res`, refused (Error) when its Content-Length, or the bytes read so
 * far (a server may omit or understate it, e.g. under a Content-Encoding), exceed
 * `limit`. The rest of an oversize body is not read.
 */
async function readBody(res, limit) {
  const declared = res.headers.get('Content-Length');
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > limit) {
    res.body?.cancel?.().catch?.(() => {});
    throw Object.assign(new Error(`Content-Length ${declared.trim()} exceeds the largest ruleset (${limit} bytes)`), { kind: 'TOO_LARGE' });
  }
  const tooBig = () => Object.assign(new Error(`body exceeds the largest ruleset (${limit} bytes)`), { kind: 'TOO_LARGE' });
  if (!res.body || typeof res.body.getReader !== 'function') {
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > limit) throw tooBig();
    return bytes;
  }
  const reader = res.body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      reader.cancel().catch(() => {});
      throw tooBig();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.byteLength; }
  return bytes;
}

function toRuleset(x) {
  if (x instanceof Ruleset) return x;
  return Ruleset.fromBytes(x);
}

/** The `rel="edgeflag-events"` target of a Link header, resolved against `base`. */
export function eventsLink(header, base) {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const rels = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]);
    const rel = rels ? (rels[1] ?? rels[2]) : '';
    if (rel.split(/\s+/).includes('edgeflag-events')) {
      try {
        return new URL(m[1], base).href;
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Milliseconds to wait from a Retry-After value (seconds or an HTTP date). */
export function retryAfterMs(value, now = Date.now()) {
  if (value == null || value === '') return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

/**
 * @param {object} options
 * @param {string} options.url URL of `<env>/current.efr` (in a browser, of the
 *   client ruleset `<env>.client/current.efr`).
 * @param {number} [options.pollIntervalMs=30000] 0 = no timer: call `refresh()`.
 * @param {Uint8Array|ArrayBuffer|Ruleset} [options.bootstrap] A ruleset to serve
 *   until the first download (e.g. inlined into the page by the server).
 * @param {string} [options.environment] Refuse rulesets of any other environment
 *   (default: the environment of the first ruleset accepted; a client ruleset's
 *   is `<env>.client`).
 * @param {number} [options.maxRulesetBytes] Largest download accepted (default: the
 *   format's limit, 64 MiB + 192): a larger Content-Length is refused unread, and a
 *   body is read no further than this.
 * @param {number} [options.minEventRefreshMs=100] Shortest spacing of downloads
 *   triggered by pushed announcements; announcements meanwhile are coalesced into
 *   one download at the end of the spacing. The first after a quiet spell fetches
 *   at once.
 * @param {string|string[]|TrustedKeys} [options.publicKeys] Install only rulesets
 *   signed by one of these keys (`edgeflag-ed25519-public:<64 hex>`; an array, or
 *   one string with a key per line). Without: signatures are not checked and
 *   `status().verified` is false.
 * @param {number} [options.fetchTimeoutMs=10000] A ruleset download (headers and
 *   body) not complete within this is aborted and counts as a failure.
 * @param {number} [options.eventIdleTimeoutMs=45000] An event stream silent this
 *   long is dropped and reconnected (FetchEventSource; the origin sends a comment
 *   every 15 s).
 * @param {'same-origin'|'any'|'none'} [options.redirects='same-origin'] Which
 *   redirects, and which event-stream Link targets, are followed (never https →
 *   http).
 * @param {'client'|'any'} [options.rulesets='client'] `'client'`: install only
 *   client rulesets (`Ruleset.isClient`), refusing a server ruleset
 *   (SERVER_RULESET) like any other refusal; `'any'`: server rulesets too. The
 *   browser entry exports this function (default `'client'`); the Node and
 *   workerd entries export `createClientFor('any')` (servers and edge functions
 *   are trusted code).
 */
export function createClient(options = {}) {
  const {
    url,
    pollIntervalMs = 30_000,
    bootstrap,
    environment,
    events = true,
    fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
    EventSource: EventSourceImpl = globalThis.EventSource ?? defaults.EventSource,
    requestInit = typeof document === 'undefined' ? {} : { cache: 'no-store' },
    maxBackoffMs = MAX_BACKOFF_MS,
    random = Math.random,
    maxRulesetBytes = MAX_RULESET_BYTES,
    minEventRefreshMs = 100,
    publicKeys,
    fetchTimeoutMs = 10_000,
    eventIdleTimeoutMs = 45_000,
    redirects = 'same-origin',
    rulesets = 'client',
  } = options;
  if (typeof url !== 'string' && !(url instanceof URL)) throw new TypeError('createClient: url is required');
  if (typeof fetchImpl !== 'function') throw new TypeError('createClient: no fetch available');
  if (!REDIRECT_POLICIES.includes(redirects)) {
    throw new TypeError(`createClient: redirects must be one of ${REDIRECT_POLICIES.join(', ')}`);
  }
  if (!RULESET_KINDS.includes(rulesets)) {
    throw new TypeError(`createClient: rulesets must be one of ${RULESET_KINDS.join(', ')}`);
  }
  const href = new URL(url, globalThis.location?.href).href;
  // Parsed once; every download is checked against the same keys. A bad key is a
  // configuration error: it throws (KeyError) here rather than refusing everything.
  const trustedKeys = publicKeys == null ? null
    : publicKeys instanceof TrustedKeys ? publicKeys : TrustedKeys.parse(publicKeys);
  // No redirect at all: fetch hands the redirect back and it is refused here.
  // Otherwise fetch follows and the final URL is checked (fetch does not show the
  // hops in between).
  const init = redirects === 'none' ? { ...requestInit, redirect: 'manual' } : requestInit;

  let current = null;
  let env = environment ?? null;
  let etag = null;
  let failures = 0;
  let timer = null;
  let inflight = null;
  let again = false;
  let closed = false;
  let source = null;
  let sourceUrl = null;
  let lastCheckAt = 0;
  let lastEventRefreshAt = -Infinity;
  let eventTimer = null;
  const status = {
    state: 'loading', // loading | ready | stale | closed
    version: null,
    epoch: null,
    environment: env,
    originBehind: null,
    refusedOlder: 0,
    etag: null,
    lastSuccessAt: null,
    lastError: null,
    consecutiveFailures: 0,
    streaming: false,
    nextPollInMs: null,
    verified: trustedKeys !== null,
    signedBy: null,
    expiresAt: null,
    stale: false,
    lastErrorKind: null,
    eventsRefused: null,
  };
  let staleTimer = null;
  let warnedStale = null; // the ruleset a stale warning was printed for
  const listeners = new Set();
  const statusListeners = new Set();
  let readyResolve;
  const readyPromise = new Promise((r) => { readyResolve = r; });

  function emitStatus() {
    for (const f of statusListeners) {
      try { f(snapshot()); } catch { /* a listener's error is its own */ }
    }
  }

  function snapshot() {
    checkStale();
    return { ...status };
  }

  // A held ruleset past its expiry keeps serving (evaluation is never worse than
  // the defaults) but is reported: status.stale, one console.warn per ruleset,
  // and the status listeners. True when it just became stale.
  function checkStale() {
    const stale = current !== null && current.isExpired(Date.now());
    const became = stale && !status.stale;
    status.stale = stale;
    if (became && warnedStale !== current) {
      warnedStale = current;
      console.warn(`edgeflag: ruleset v${current.version} (epoch ${current.epoch}) of ${current.environment} expired at ` +
        `${new Date(current.expiresAt).toISOString()} and is still served: the origin has not delivered a newer one ` +
        `(last error: ${status.lastError ?? 'none'}).`);
    }
    return became;
  }

  // With timers (pollIntervalMs > 0), the moment the held ruleset expires is
  // reported as it happens; without (edge functions), at the next status().
  function watchExpiry() {
    clearTimeout(staleTimer);
    staleTimer = null;
    if (closed || !(pollIntervalMs > 0) || current?.expiresAt == null) return;
    const wait = current.expiresAt - Date.now();
    if (wait <= 0) return;
    staleTimer = setTimeout(() => { if (checkStale()) emitStatus(); else watchExpiry(); }, Math.min(wait, 2 ** 31 - 1));
    staleTimer?.unref?.();
  }

  // May `rs` replace the held ruleset? A client taking only client rulesets
  // refuses a server ruleset first (this is the one place that decides); then
  // the evaluator's one acceptance policy decides (through the WASM binding). A
  // refusal throws a DecodeError. `where`: what it came from, for the message.
  // `now`: the arrival time of a download (an expired one is refused);
  // undefined for the bootstrap, which is taken even when expired.
  function accept(rs, where, newEtag, now) {
    if (rulesets === 'client' && !rs.isClient) throw serverRulesetRefusal(rs, where);
    let replaces;
    try {
      replaces = rs.checkReplaces(current, env, { trustedKeys, now });
    } catch (e) {
      if (e.kind === 'OLDER_VERSION') originBehind(rs);
      throw e;
    }
    if (newEtag !== undefined) etag = newEtag;
    status.originBehind = null;
    if (!replaces) return false;
    const previous = current;
    current = rs; // the swap: one assignment, readers see the old or the new ruleset
    env = rs.environment;
    status.version = rs.version;
    status.epoch = rs.epoch;
    status.environment = env;
    status.signedBy = trustedKeys ? rs.signedBy : null;
    status.expiresAt = rs.expiresAt;
    watchExpiry();
    if (checkStale()) emitStatus();
    for (const f of listeners) {
      try { f(rs, previous); } catch { /* a listener's error is its own */ }
    }
    readyResolve(rs);
    return true;
  }

  // The origin serves an older ruleset than the one held (a destination restored
  // to an older state, or a stale CDN edge): keep the held one, say so loudly.
  function originBehind(rs) {
    status.refusedOlder += 1;
    const served = { epoch: rs.epoch, version: rs.version };
    const was = status.originBehind;
    status.originBehind = { held: { epoch: current.epoch, version: current.version }, served };
    if (!was || was.served.epoch !== served.epoch || was.served.version !== served.version) {
      console.error(`edgeflag: the origin serves ruleset v${rs.version} (epoch ${rs.epoch}), older than the one held ` +
        `(v${current.version}, epoch ${current.epoch}); keeping it. If the destination was reset or restored, ` +
        'publish with --new-epoch.');
    }
  }

  // A bootstrap refused (undecodable, or by accept) is recorded like a refused
  // download: the client stays loading and the first download may serve.
  if (bootstrap !== undefined && bootstrap !== null) {
    try {
      accept(toRuleset(bootstrap), 'the bootstrap');
      status.state = 'ready';
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      fail(e);
    }
  }

  // `kind`: the DecodeError's (a refused ruleset), else what failed: NETWORK,
  // TIMEOUT, HTTP, TOO_LARGE, REDIRECT.
  function fail(err, kind = 'NETWORK') {
    failures += 1;
    status.consecutiveFailures = failures;
    status.lastErrorKind = err instanceof DecodeError ? err.kind : kind;
    const message = err instanceof Error ? err.message : String(err);
    status.lastError = err instanceof DecodeError ? `${err.kind}: ${message}` : message;
    status.state = current ? 'stale' : 'loading';
  }

  function backoffMs() {
    const base = Math.max(MIN_BACKOFF_MS, Math.min(pollIntervalMs || MIN_BACKOFF_MS, MIN_BACKOFF_MS * 4));
    const cap = Math.min(maxBackoffMs, base * 2 ** Math.min(failures - 1, 20));
    return cap / 2 + random() * (cap / 2); // "equal jitter"
  }

  function subscribe(link) {
    if (!events || closed || typeof EventSourceImpl !== 'function' || !link) return;
    if (source && sourceUrl === link) return;
    // The Link is the origin's word, so it gets the redirect policy: a response
    // must not send the client's stream (and its Last-Event-ID) to another origin.
    const why = redirectRefusal(redirects, href, link, { isRedirect: false });
    if (why) {
      if (status.eventsRefused !== why) console.warn(`edgeflag: ${why}`);
      status.eventsRefused = why;
      return;
    }
    status.eventsRefused = null;
    if (source) source.close();
    sourceUrl = link;
    // A browser's EventSource ignores the options it does not know.
    source = new EventSourceImpl(link, { idleTimeoutMs: eventIdleTimeoutMs, redirects });
    source.addEventListener('open', () => { status.streaming = true; emitStatus(); });
    source.addEventListener('error', () => { status.streaming = false; emitStatus(); });
    source.addEventListener('ruleset', (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      // Only a newer (epoch, version) is worth a request (the stream also
      // announces the current one on connect).
      if (current === null || (typeof msg.version === 'number' && newer(msg, current))) {
        announced();
      }
    });
  }

  // An announcement asks for a download: at once after a quiet spell, otherwise
  // one at the end of the spacing for all the announcements meanwhile (a stream
  // announcing a version per millisecond must not become a request per
  // millisecond). refresh() itself keeps to one request in flight.
  function announced() {
    if (eventTimer || closed) return; // one is already due
    const wait = lastEventRefreshAt + minEventRefreshMs - Date.now();
    const go = () => {
      eventTimer = null;
      lastEventRefreshAt = Date.now();
      refresh().catch(() => {});
    };
    if (wait <= 0) { go(); return; }
    eventTimer = setTimeout(go, wait);
    eventTimer?.unref?.();
  }

  async function fetchOnce() {
    // A stalled origin (headers or body that never come) must not hold the one
    // request in flight forever: abort after fetchTimeoutMs.
    const abort = new AbortController();
    const timeout = new Error(`GET ${href}: no complete response within ${fetchTimeoutMs} ms`);
    const deadline = fetchTimeoutMs > 0 ? setTimeout(() => abort.abort(timeout), fetchTimeoutMs) : null;
    const outer = init.signal;
    const forward = () => abort.abort(outer.reason);
    if (outer) {
      if (outer.aborted) forward();
      else outer.addEventListener('abort', forward, { once: true });
    }
    try {
      return await exchange(abort.signal, (e, kind) => {
        if (abort.signal.reason === timeout) fail(timeout, 'TIMEOUT');
        else fail(e, kind);
      });
    } finally {
      clearTimeout(deadline);
      outer?.removeEventListener('abort', forward);
    }
  }

  // One conditional GET; `failed(error, kind)` records a failure (a timeout as
  // such, whatever the fetch implementation rejected with).
  async function exchange(signal, failed) {
    const headers = {};
    if (etag) headers['If-None-Match'] = etag;
    let res;
    try {
      res = await fetchImpl(href, { ...init, signal, headers: { ...(init.headers || {}), ...headers } });
    } catch (e) {
      failed(e, 'NETWORK');
      return { retryMs: null };
    }
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400 && res.status !== 304)) {
      res.body?.cancel?.().catch?.(() => {});
      const to = res.headers.get('Location');
      fail(new Error(`GET ${href}: redirect${to ? ` to ${new URL(to, href).href}` : ''} refused: the client follows no redirects (redirects: "none")`), 'REDIRECT');
      return { retryMs: null };
    }
    if (res.redirected && res.url) {
      const why = redirectRefusal(redirects, href, res.url);
      if (why) {
        res.body?.cancel?.().catch?.(() => {});
        fail(new Error(`GET ${href}: ${why}`), 'REDIRECT');
        return { retryMs: null };
      }
    }
    lastCheckAt = Date.now();
    subscribe(eventsLink(res.headers.get('Link'), href));
    const retry = retryAfterMs(res.headers.get('Retry-After'));
    if (res.status === 304) {
      if (res.body) res.body.cancel?.().catch?.(() => {});
      return ok();
    }
    if (!res.ok) {
      if (res.body) res.body.cancel?.().catch?.(() => {}); // an error page is not read
      fail(new Error(`GET ${href}: HTTP ${res.status}`), 'HTTP');
      return { retryMs: retry };
    }
    let bytes;
    try {
      bytes = await readBody(res, maxRulesetBytes);
    } catch (e) {
      failed(e, e.kind ?? 'NETWORK');
      return { retryMs: retry };
    }
    try {
      accept(Ruleset.fromBytes(bytes), res.url || href, res.headers.get('ETag') ?? null, Date.now());
    } catch (e) {
      // Refused: keep the last good ruleset. The ETag is not remembered, so the
      // next poll downloads again (a truncated transfer is not the origin's fault).
      fail(e);
      return { retryMs: retry };
    }
    return ok();

    function ok() {
      failures = 0;
      status.consecutiveFailures = 0;
      status.lastError = null;
      status.lastErrorKind = null;
      status.lastSuccessAt = Date.now();
      status.etag = etag;
      if (current) status.state = 'ready';
      return { retryMs: retry };
    }
  }

  function schedule(retryMs) {
    if (closed || !(pollIntervalMs > 0)) { status.nextPollInMs = null; return; }
    let delay = failures > 0 ? backoffMs() : pollIntervalMs * (0.9 + random() * 0.2);
    if (retryMs != null) delay = Math.max(delay, retryMs);
    delay = Math.min(delay, 2 ** 31 - 1);
    status.nextPollInMs = Math.round(delay);
    clearTimeout(timer);
    timer = setTimeout(() => { refresh().catch(() => {}); }, delay);
    timer?.unref?.(); // never keep a Node process alive for polling
  }

  /** Checks the origin now (at most one request at a time). Resolves to the status. */
  function refresh() {
    if (closed) return Promise.resolve(snapshot());
    if (inflight) { again = true; return inflight; }
    inflight = (async () => {
      let r;
      do {
        again = false;
        r = await fetchOnce();
      } while (again && !closed);
      inflight = null;
      schedule(r.retryMs);
      emitStatus();
      return snapshot();
    })();
    return inflight;
  }

  refresh().catch(() => {});

  const client = {
    /** The ruleset currently served, or null before the first one. */
    get ruleset() { return current; },
    /** Resolves with the first ruleset (bootstrap or download). */
    ready() { return readyPromise; },
    refresh,
    /** Revalidates only if the last check is older than `maxAgeMs` (edge functions). */
    revalidate(maxAgeMs = 0) {
      if (current && Date.now() - lastCheckAt < maxAgeMs) return Promise.resolve(snapshot());
      return refresh();
    },
    status: snapshot,
    /** `f(ruleset, previous)` after every swap. Returns an unsubscribe function. */
    onChange(f) { listeners.add(f); return () => listeners.delete(f); },
    /** `f(status)` after every check. Returns an unsubscribe function. */
    onStatus(f) { statusListeners.add(f); return () => statusListeners.delete(f); },
    close() {
      closed = true;
      clearTimeout(timer);
      clearTimeout(staleTimer);
      clearTimeout(eventTimer);
      if (source) source.close();
      source = null;
      status.state = 'closed';
      status.streaming = false;
      status.nextPollInMs = null;
    },
    evaluate(flagKey, ctx) {
      return current ? current.evaluate(flagKey, ctx) : notReady();
    },
    boolValue(flagKey, ctx, d = false) { return current ? current.boolValue(flagKey, ctx, d) : d; },
    numberValue(flagKey, ctx, d = 0) { return current ? current.numberValue(flagKey, ctx, d) : d; },
    stringValue(flagKey, ctx, d = '') { return current ? current.stringValue(flagKey, ctx, d) : d; },
    jsonValue(flagKey, ctx, d = null) { return current ? current.jsonValue(flagKey, ctx, d) : d; },
    allFlags(ctx) { return current ? current.allFlags(ctx) : {}; },
  };
  return client;
}

/**
 * `createClient` with `rulesets` defaulting to `kind` (an entry point's default:
 * `'any'` for Node and workerd; browsers use `createClient`, `'client'`).
 */
export function createClientFor(kind) {
  return (options = {}) => createClient({ ...options, rulesets: options?.rulesets === undefined ? kind : options.rulesets });
}

function notReady() {
  return {
    value: null,
    variation: null,
    variation_index: null,
    reason: { kind: 'ERROR', error_kind: 'CLIENT_NOT_READY' },
    in_rollout: false,
  };
}
