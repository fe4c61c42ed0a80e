// What the server and web OpenFeature providers share. Nothing here imports an
// OpenFeature SDK (each provider imports its own) or an entry point (the user
// already loaded one to create the client or ruleset handed to the provider,
// which initialised the WebAssembly module that core.js uses).
//
// - the context rule: an OpenFeature evaluation context, as the JSON object it
//   is on the wire, to edgeflag attributes — the rule of the evaluator's
//   `json::context_from_openfeature` (which OFREP and the Rust provider use);
// - the one mapping of edgeflag reasons and errors to OpenFeature's
//   (`evaluator/src/openfeature.rs`; the cases are tests/vectors/openfeature.json);
// - a Source: the client or ruleset a provider reads, its changes and staleness.
import { Context, Ruleset } from '../core.js';

/** Deepest nesting of objects the context rule flattens (the evaluator's MAX_CONTEXT_DEPTH). */
export const MAX_CONTEXT_DEPTH = 8;

/** An OpenFeature context with no edgeflag form (INVALID_CONTEXT); `path` is the dotted attribute. */
export class InvalidContextError extends Error {
  constructor(path, reason) {
    super(`attribute ${JSON.stringify(path)}: ${reason}`);
    this.name = 'InvalidContextError';
    this.path = path;
    this.reason = reason;
  }
}

const NOT_JSON = 'not a JSON value';

/**
 * A JavaScript value as its JSON form, as `JSON.stringify` (and so an OFREP
 * provider) would send it: a Date is its ISO 8601 text in UTC; `undefined` is
 * absent (returned as undefined). Functions, symbols and bigints have none.
 */
function jsonForm(v, path) {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new InvalidContextError(path, 'not a valid date');
    return v.toISOString();
  }
  const t = typeof v;
  if (t === 'function' || t === 'symbol' || t === 'bigint') throw new InvalidContextError(path, NOT_JSON);
  return v;
}

/**
 * The edgeflag attributes (`{key, …}`, what `new Context` takes) of an
 * OpenFeature evaluation context. The rule, the evaluator's
 * `context_from_openfeature` on the context's JSON form:
 *
 * - `targetingKey` (a string) is the key; without it, a string `key` field is;
 *   any other type is an error, `null` means none;
 * - strings, numbers and booleans are attributes of the same name; `null` (and
 *   `undefined`) is absent; a number must be finite; a Date is its ISO text;
 * - an array of strings and numbers is a list attribute (other elements are an
 *   error);
 * - a nested object is flattened with `.` (`{address: {country: 'DE'}}` is
 *   `address.country`), at most MAX_CONTEXT_DEPTH levels deep; a later field
 *   overwrites an earlier one of the same dotted name.
 *
 * Throws InvalidContextError naming the attribute.
 */
export function attributesOf(context) {
  const fields = context ?? {};
  if (typeof fields !== 'object' || Array.isArray(fields)) throw new InvalidContextError('', 'the context must be an object');
  const attrs = {};
  const named = fields.targetingKey !== undefined ? 'targetingKey' : fields.key !== undefined ? 'key' : null;
  if (named) {
    const k = jsonForm(fields[named], named);
    if (typeof k === 'string') attrs.key = k;
    else if (k !== null) throw new InvalidContextError(named, 'the targeting key must be a string');
  }
  const add = (prefix, obj, depth) => {
    for (const [name, raw] of Object.entries(obj)) {
      if (depth === 0 && (name === 'targetingKey' || name === 'key')) continue;
      const path = prefix === '' ? name : `${prefix}.${name}`;
      const v = jsonForm(raw, path);
      if (v === undefined || v === null) continue;
      switch (typeof v) {
        case 'boolean':
        case 'string':
          attrs[path] = v;
          break;
        case 'number':
          if (!Number.isFinite(v)) throw new InvalidContextError(path, 'not a finite number');
          attrs[path] = v;
          break;
        default:
          if (Array.isArray(v)) {
            attrs[path] = v.map((item) => {
              const e = jsonForm(item, path);
              if (typeof e === 'string') return e;
              if (typeof e === 'number') {
                if (!Number.isFinite(e)) throw new InvalidContextError(path, 'not a finite number');
                return e;
              }
              throw new InvalidContextError(path, 'list elements must be strings or numbers');
            });
          } else {
            if (depth + 1 >= MAX_CONTEXT_DEPTH) throw new InvalidContextError(path, 'objects nested too deeply');
            add(path, v, depth + 1);
          }
      }
    }
  };
  add('', fields, 0);
  return attrs;
}

/** The edgeflag Context of an OpenFeature evaluation context (attributesOf, converted once). */
export function contextOf(context) {
  return new Context(attributesOf(context));
}

/**
 * The OpenFeature reason of an edgeflag detail: the one mapping
 * (`evaluator/src/openfeature.rs`): an error is ERROR; any result a percentage
 * rollout chose is SPLIT; OFF is DISABLED; TARGET_MATCH and RULE_MATCH are
 * TARGETING_MATCH; PREREQUISITE_FAILED, FALLTHROUGH and DEFAULT are DEFAULT.
 */
export function openFeatureReason(detail) {
  const kind = detail.reason.kind;
  if (kind === 'ERROR') return 'ERROR';
  if (detail.in_rollout) return 'SPLIT';
  if (kind === 'OFF') return 'DISABLED';
  if (kind === 'TARGET_MATCH' || kind === 'RULE_MATCH') return 'TARGETING_MATCH';
  return 'DEFAULT';
}

/** The OpenFeature error code of an edgeflag error kind (WRONG_TYPE is TYPE_MISMATCH). */
export function openFeatureErrorCode(errorKind) {
  switch (errorKind) {
    case 'FLAG_NOT_FOUND': return 'FLAG_NOT_FOUND';
    case 'WRONG_TYPE': return 'TYPE_MISMATCH';
    case 'CLIENT_NOT_READY': return 'PROVIDER_NOT_READY';
    default: return 'GENERAL';
  }
}

/**
 * The flag metadata of a result (the keys of the Rust provider,
 * `openfeature/src/metadata.rs`): `reason` (the edgeflag reason kind),
 * `rule_index` and `rule_id` (RULE_MATCH), `prerequisite`
 * (PREREQUISITE_FAILED), the ruleset's `version`, `epoch` and `environment`,
 * and `stale: true` when the ruleset has expired.
 */
export function metadataOf(rs, detail, now = Date.now()) {
  const r = detail.reason;
  const m = { reason: r.kind };
  if (r.kind === 'RULE_MATCH') {
    m.rule_index = r.rule_index;
    if (r.rule_id != null) m.rule_id = r.rule_id;
  } else if (r.kind === 'PREREQUISITE_FAILED') {
    m.prerequisite = r.prerequisite;
  }
  m.version = rs.version;
  m.epoch = rs.epoch;
  m.environment = rs.environment;
  if (rs.isExpired(now)) m.stale = true;
  return m;
}

/** The type OpenFeature asked for → the Ruleset's typed detail. */
export const DETAIL = { boolean: 'boolDetail', string: 'stringDetail', number: 'numberDetail', object: 'jsonDetail' };

/** Whether a served value is of the OpenFeature type (compiled JSON flags serve objects and arrays only). */
export function valueFits(type, value) {
  if (type === 'object') return value !== null && typeof value === 'object';
  return typeof value === type;
}

/** An error resolution: the caller's default, reason ERROR. */
export function errorResolution(defaultValue, errorCode, errorMessage, flagMetadata) {
  const r = { value: defaultValue, reason: 'ERROR', errorCode, errorMessage };
  if (flagMetadata) r.flagMetadata = flagMetadata;
  return r;
}

/** The resolution of an edgeflag detail served by `rs` (the typed detail, or an allFlags entry). */
export function resolutionOf(rs, flagKey, type, defaultValue, detail) {
  if (detail.reason.kind === 'ERROR') {
    const code = openFeatureErrorCode(detail.reason.error_kind);
    const why = code === 'FLAG_NOT_FOUND'
      ? `no flag ${JSON.stringify(flagKey)} in ${rs.environment} (ruleset v${rs.version})`
      : `flag ${JSON.stringify(flagKey)} is not a ${type} flag`;
    return errorResolution(defaultValue, code, why);
  }
  if (!valueFits(type, detail.value)) {
    return errorResolution(defaultValue, 'TYPE_MISMATCH', `flag ${JSON.stringify(flagKey)} is not a ${type} flag`);
  }
  const r = { value: detail.value, reason: openFeatureReason(detail), flagMetadata: metadataOf(rs, detail) };
  if (detail.variation != null) r.variant = detail.variation;
  return r;
}

function isClientLike(x) {
  return x !== null && typeof x === 'object' && typeof x.onChange === 'function' && typeof x.ready === 'function' && 'ruleset' in x;
}

/**
 * What a provider reads: a client (`createClient`, kept fresh from an origin)
 * or a fixed Ruleset. Accepts the client, the ruleset, or `{client}` /
 * `{ruleset}`.
 */
export class Source {
  constructor(from) {
    const x = from !== null && typeof from === 'object' && !(from instanceof Ruleset) && !isClientLike(from)
      ? (from.client ?? from.ruleset) : from;
    if (x instanceof Ruleset) {
      this.client = null;
      this._ruleset = x;
    } else if (isClientLike(x)) {
      this.client = x;
      this._ruleset = null;
    } else {
      throw new TypeError('edgeflag OpenFeature provider: expected a client (createClient) or a Ruleset, or {client} / {ruleset}');
    }
  }

  /** The ruleset served now, or null before the first one. */
  get ruleset() {
    return this.client ? this.client.ruleset : this._ruleset;
  }

  /**
   * Resolves when there is a ruleset; rejects after `timeoutMs` (> 0) with an
   * Error naming the client's last error.
   */
  ready(timeoutMs) {
    if (this.ruleset) return Promise.resolve(this.ruleset);
    const ready = this.client.ready();
    if (!(timeoutMs > 0)) return ready;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        const st = this.client.status();
        reject(new Error(`edgeflag: no ruleset within ${timeoutMs} ms (client ${st.state}` +
          `${st.lastError ? `, last error: ${st.lastError}` : ''})`));
      }, timeoutMs);
    });
    return Promise.race([ready, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Calls `onRuleset(ruleset, previous)` after each swap and `onStale()` when
   * the client reports the held ruleset expired. Returns the unsubscribe
   * function. A fixed Ruleset never changes: nothing to subscribe to.
   */
  watch(onRuleset, onStale) {
    if (!this.client) return () => {};
    const offChange = this.client.onChange(onRuleset);
    const offStatus = this.client.onStatus((st) => { if (st.stale) onStale(); });
    return () => { offChange(); offStatus(); };
  }
}

/**
 * The status events of a ruleset swap, shared by the server and web providers
 * (`Events` is their SDK's ProviderEvents; `provider` has `events`,
 * `_initFailed`, `_stale` and `_source`): PROVIDER_READY after the first
 * ruleset when initialize had timed out; otherwise CONFIGURATION_CHANGED (with
 * `extra`, e.g. the web provider's `flagsChanged`), and READY again when a
 * fresh ruleset replaces an expired one; then the stale check.
 */
export function emitSwap(provider, Events, rs, previous, extra = {}) {
  if (previous === null) {
    // initialize resolves on this ruleset (READY); after a timed-out
    // initialize, the SDK needs the event.
    if (provider._initFailed) provider.events.emit(Events.Ready, { message: `ruleset v${rs.version} of ${rs.environment}` });
  } else {
    provider.events.emit(Events.ConfigurationChanged, {
      message: `ruleset v${rs.version} (epoch ${rs.epoch}) of ${rs.environment} replaced v${previous.version}`,
      ...extra,
      metadata: { version: rs.version, epoch: rs.epoch, environment: rs.environment },
    });
    if (provider._stale && !rs.isExpired()) {
      provider._stale = false;
      provider.events.emit(Events.Ready, { message: `fresh ruleset v${rs.version}` });
    }
  }
  emitIfStale(provider, Events);
}

/** PROVIDER_STALE, once, when the held ruleset has expired. */
export function emitIfStale(provider, Events) {
  const rs = provider._source.ruleset;
  if (provider._stale || !rs || !rs.isExpired()) return;
  provider._stale = true;
  provider.events.emit(Events.Stale, {
    message: `ruleset v${rs.version} of ${rs.environment} expired at ${new Date(rs.expiresAt).toISOString()} and is still served`,
  });
}
