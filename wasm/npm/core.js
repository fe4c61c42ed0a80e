// The public API over the raw wasm-bindgen exports. Every answer comes from the
// Rust evaluator; this file only moves data across the boundary:
// - a Context crosses once, as one JSON string, and is then passed by handle;
// - typed getters pass a flag id (resolved once per ruleset and cached here), not
//   the key string;
// - details and allFlags come back as the JSON text the evaluator renders (the
//   same bytes `edgeflag eval` prints) and are parsed here.
import {
  Ruleset as RawRuleset, Context as RawContext, Policy as RawPolicy, TrustedKeys as RawTrustedKeys,
} from './gen/edgeflag.js';

/** Bytes refused as a ruleset. `kind` is a stable code (TRUNCATED, BAD_MAGIC, …). */
export class DecodeError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'DecodeError';
    this.kind = kind;
  }
}

// The binding throws `Error("<KIND>: <reason>")`; this turns it into a DecodeError.
function decodeError(e) {
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(messageOf(e));
  return m ? new DecodeError(m[1], m[2]) : new DecodeError('UNKNOWN', messageOf(e));
}

/** Text refused as public keys. `kind`: KEY_PREFIX, KEY_HEX, KEY_INVALID, KEY_EMPTY, KEY_TOO_MANY, KEY_DUPLICATE. */
export class KeyError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'KeyError';
    this.kind = kind;
  }
}

/**
 * The public keys a reader trusts (`edgeflag-ed25519-public:<64 hex>` each),
 * parsed once and used for every ruleset checked against them.
 */
export class TrustedKeys {
  constructor(raw) {
    if (!(raw instanceof RawTrustedKeys)) throw new TypeError('use TrustedKeys.parse');
    this._raw = raw;
    /** The keys' ids, 16 hex digits each (what `Ruleset.signedBy` names). */
    this.ids = JSON.parse(raw.idsJSON());
  }

  /**
   * Keys from an array of key strings, or one string with a key per line (blank
   * lines and `#` comments skipped); at least one. Throws a KeyError.
   */
  static parse(keys) {
    const text = Array.isArray(keys) ? keys.map(String).join('\n') : keys;
    if (typeof text !== 'string') throw new TypeError('TrustedKeys.parse expects a string or an array of strings');
    let raw;
    try {
      raw = RawTrustedKeys.parse(text);
    } catch (e) {
      const err = decodeError(e);
      throw new KeyError(err.kind, err.message);
    }
    return new TrustedKeys(raw);
  }
}

/** A context object the evaluator does not accept; the message names the attribute. */
export class ContextError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ContextError';
  }
}

const GETTER = { bool: 1, string: 2, number: 3, json: 4 };

function messageOf(e) {
  return e instanceof Error ? e.message : String(e);
}

function rawContext(text) {
  try {
    return RawContext.fromJSON(text);
  } catch (e) {
    throw new ContextError(messageOf(e));
  }
}

function contextText(attributes) {
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) {
    throw new ContextError('invalid context: expected an object of attributes');
  }
  return JSON.stringify(attributes);
}

/**
 * The attributes of the subject of an evaluation, converted once and reused for
 * any number of evaluations (against any ruleset).
 */
export class Context {
  constructor(attributes) {
    this._raw = rawContext(contextText(attributes));
  }

  /** A context from the JSON text of an attribute object. */
  static fromJSON(text) {
    const ctx = Object.create(Context.prototype);
    ctx._raw = rawContext(String(text));
    return ctx;
  }

  /** The `key` attribute when it is a string. */
  get key() {
    return this._raw.key;
  }

  /** Releases the WASM memory now (otherwise the garbage collector does). */
  free() {
    this._raw.free();
  }

}

if (typeof Symbol.dispose === 'symbol') Context.prototype[Symbol.dispose] = Context.prototype.free;

/** A loaded, verified ruleset. Immutable; evaluations never throw. */
export class Ruleset {
  constructor(raw) {
    if (!(raw instanceof RawRuleset)) throw new TypeError('use Ruleset.fromBytes');
    this._raw = raw;
    this._ids = new Map();
    /** Ruleset version: a counter within the epoch (higher is newer). */
    this.version = raw.version;
    /** The version series: Unix ms when it began; 0 = compiled, never published. */
    this.epoch = raw.epoch;
    /** Header checksum, 16 hex digits. */
    this.checksum = raw.checksum;
    /** Environment the ruleset was compiled for. */
    this.environment = raw.environment;
    /** Creation time, Unix milliseconds. */
    this.createdAtMs = raw.createdAtMs;
    /** When it stops being fresh (Unix ms), or null: it does not expire (only signed rulesets do). */
    this.expiresAt = raw.expiresAtMs ?? null;
    /**
     * The id (16 hex digits) of the key its signature names, or null when
     * unsigned. Verified only by `checkReplaces` with `trustedKeys` (and by a
     * client with `publicKeys`).
     */
    this.signedBy = raw.signedBy ?? null;
    /**
     * Whether it is a client ruleset (what browsers load, published as
     * `<env>.client`: only client-side flags, target keys, segment members and
     * the values of `in` clauses stored as salted hashes) rather than a server
     * ruleset (every flag, user ids in clear). A client ruleset lists and
     * serves only its client-side flags; their answers equal the server
     * ruleset's.
     */
    this.isClient = raw.isClient;
  }

  /** Whether it has expired at `now` (Unix ms; default: now). Never, without an expiry. */
  isExpired(now = Date.now()) {
    return this.expiresAt !== null && now >= this.expiresAt;
  }

  /**
   * Whether this ruleset may replace `held` (null: none held) for a client of
   * `environment` (null: the held one's): the evaluator's one acceptance policy
   * (a signature by one of `trustedKeys`, when given; the environment; when `now`
   * is given — the arrival time of a download — not expired and no epoch from
   * the future; then `(epoch, version)` order, bounded steps, and same version =
   * same checksum). Without `now` (a bootstrap, a trusted local source) an
   * expired ruleset is taken. Returns true to install it, false when it is the
   * held ruleset; throws a DecodeError (UNSIGNED, UNKNOWN_KEY, BAD_SIGNATURE,
   * WRONG_ENVIRONMENT, EXPIRED, FUTURE_EPOCH, OLDER_VERSION, VERSION_JUMP,
   * SAME_VERSION_DIFFERS).
   */
  checkReplaces(held, environment, { trustedKeys, now } = {}) {
    if (trustedKeys != null && !(trustedKeys instanceof TrustedKeys)) {
      throw new TypeError('checkReplaces: trustedKeys must be a TrustedKeys (TrustedKeys.parse)');
    }
    const policy = new RawPolicy(environment ?? undefined);
    try {
      if (trustedKeys) policy.trust(trustedKeys._raw);
      const at = now ?? undefined;
      return held ? policy.checkReplaces(this._raw, held._raw, at) : policy.checkFirst(this._raw, at);
    } catch (e) {
      throw decodeError(e);
    } finally {
      policy.free();
    }
  }

  /** Decodes and verifies a binary ruleset (`.efr`); throws a DecodeError. */
  static fromBytes(bytes) {
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    else if (ArrayBuffer.isView(bytes) && !(bytes instanceof Uint8Array)) {
      bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    if (!(bytes instanceof Uint8Array)) throw new TypeError('Ruleset.fromBytes expects a Uint8Array');
    let raw;
    try {
      raw = RawRuleset.fromBytes(bytes);
    } catch (e) {
      throw decodeError(e);
    }
    return new Ruleset(raw);
  }

  /** Number of flags (in a client ruleset, its client-side flags: as many as `flagKeys()` lists). */
  get size() {
    return this._raw.flagCount;
  }

  /** Flag keys in stored (prerequisite) order. */
  flagKeys() {
    return JSON.parse(this._raw.flagKeysJSON());
  }

  _id(key) {
    let id = this._ids.get(key);
    if (id === undefined) {
      id = this._raw.flagId(String(key));
      // Only known keys are cached, so unknown keys cannot grow the map.
      if (id >= 0) this._ids.set(key, id);
    }
    return id;
  }

  // Runs `f` with a raw context: the handle of a Context, or a temporary one for a
  // plain object (converted for this call only).
  _with(ctx, f) {
    if (ctx instanceof Context) return f(ctx._raw);
    const raw = rawContext(contextText(ctx));
    try {
      return f(raw);
    } finally {
      raw.free();
    }
  }

  /** The detail of a flag as the evaluator's JSON text (`getter`: bool/string/number/json). */
  evaluateJSON(flagKey, ctx, getter) {
    const code = getter === undefined ? 0 : GETTER[getter];
    if (code === undefined) throw new TypeError(`unknown getter ${getter}`);
    return this._with(ctx, (raw) => this._raw.detailJSON(String(flagKey), raw, code));
  }

  /** `{value, variation, variation_index, reason: {kind, …}, in_rollout}`. */
  evaluate(flagKey, ctx) {
    return JSON.parse(this.evaluateJSON(flagKey, ctx));
  }

  boolDetail(flagKey, ctx) {
    return JSON.parse(this.evaluateJSON(flagKey, ctx, 'bool'));
  }

  stringDetail(flagKey, ctx) {
    return JSON.parse(this.evaluateJSON(flagKey, ctx, 'string'));
  }

  numberDetail(flagKey, ctx) {
    return JSON.parse(this.evaluateJSON(flagKey, ctx, 'number'));
  }

  jsonDetail(flagKey, ctx) {
    return JSON.parse(this.evaluateJSON(flagKey, ctx, 'json'));
  }

  /** A boolean flag's value, or `defaultValue` (unknown flag, other type). */
  boolValue(flagKey, ctx, defaultValue = false) {
    const id = this._id(flagKey);
    if (id < 0) return defaultValue;
    const v = ctx instanceof Context
      ? this._raw.boolById(id, ctx._raw)
      : this._with(ctx, (raw) => this._raw.boolById(id, raw));
    return v === 2 ? defaultValue : v === 1;
  }

  /** A number flag's value, or `defaultValue`. */
  numberValue(flagKey, ctx, defaultValue = 0) {
    const id = this._id(flagKey);
    if (id < 0) return defaultValue;
    const v = ctx instanceof Context
      ? this._raw.numberById(id, ctx._raw)
      : this._with(ctx, (raw) => this._raw.numberById(id, raw));
    // Flag values are finite (the loader refuses others), so NaN means "no value".
    return Number.isNaN(v) ? defaultValue : v;
  }

  /** A string flag's value, or `defaultValue`. */
  stringValue(flagKey, ctx, defaultValue = '') {
    const id = this._id(flagKey);
    if (id < 0) return defaultValue;
    const v = this._with(ctx, (raw) => this._raw.stringById(id, raw));
    return v === undefined ? defaultValue : v;
  }

  /** A JSON flag's value (parsed), or `defaultValue`. */
  jsonValue(flagKey, ctx, defaultValue = null) {
    const id = this._id(flagKey);
    if (id < 0) return defaultValue;
    const v = this._with(ctx, (raw) => this._raw.jsonById(id, raw));
    return v === undefined ? defaultValue : JSON.parse(v);
  }

  /** Every flag's detail as `{"<key>": detail, …}` JSON text, in stored order. */
  allFlagsJSON(ctx) {
    return this._with(ctx, (raw) => this._raw.allFlagsJSON(raw));
  }

  /** Every flag's detail, `{ [key]: detail }`: what a page needs to bootstrap. */
  allFlags(ctx) {
    return JSON.parse(this.allFlagsJSON(ctx));
  }

  /** Releases the WASM memory now (otherwise the garbage collector does). */
  free() {
    this._raw.free();
  }
}
