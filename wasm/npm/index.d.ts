/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Attribute values: a string, number, boolean, a list of strings and numbers; `null` means absent. */
export type AttributeValue = string | number | boolean | null | Array<string | number>;

/** The attributes of the subject of an evaluation (`key` must be a string when present). */
export interface Attributes {
  key?: string;
  [name: string]: AttributeValue | undefined;
}

export type ReasonKind =
  | 'OFF'
  | 'PREREQUISITE_FAILED'
  | 'TARGET_MATCH'
  | 'RULE_MATCH'
  | 'FALLTHROUGH'
  | 'DEFAULT'
  | 'ERROR';

export type Reason =
  | { kind: 'OFF' | 'TARGET_MATCH' | 'FALLTHROUGH' | 'DEFAULT' }
  | { kind: 'PREREQUISITE_FAILED'; prerequisite: string }
  | { kind: 'RULE_MATCH'; rule_index: number; rule_id: string | null }
  | { kind: 'ERROR'; error_kind: 'FLAG_NOT_FOUND' | 'WRONG_TYPE' | 'CLIENT_NOT_READY' };

/** The result of an evaluation; `value` is null exactly when `reason.kind` is `ERROR`. */
export interface Detail<T = Json> {
  value: T | null;
  variation: string | null;
  variation_index: number | null;
  reason: Reason;
  in_rollout: boolean;
}

/** Bytes refused as a ruleset. */
export class DecodeError extends Error {
  readonly name: 'DecodeError';
  /**
   * TRUNCATED, BAD_MAGIC, UNSUPPORTED_VERSION, BAD_HEADER, TRAILING_BYTES,
   * CHECKSUM_MISMATCH, MALFORMED_BODY, INVALID (UNKNOWN for a kind added later);
   * from `checkReplaces` and the client also UNSIGNED, UNKNOWN_KEY, BAD_SIGNATURE,
   * WRONG_ENVIRONMENT, EXPIRED, FUTURE_EPOCH, OLDER_VERSION, VERSION_JUMP and
   * SAME_VERSION_DIFFERS; from the client also SERVER_RULESET (`rulesets: 'client'`).
   */
  readonly kind: string;
}

/** Text refused as public keys. */
export class KeyError extends Error {
  readonly name: 'KeyError';
  /** KEY_PREFIX, KEY_HEX, KEY_INVALID, KEY_EMPTY, KEY_TOO_MANY, KEY_DUPLICATE (UNKNOWN for a kind added later). */
  readonly kind: string;
}

/** Public keys a reader trusts, parsed once. */
export class TrustedKeys {
  private constructor();
  /** Keys (`edgeflag-ed25519-public:<64 hex>`): an array, or one string with a key per line. Throws KeyError. */
  static parse(keys: string | readonly string[]): TrustedKeys;
  /** The keys' ids, 16 hex digits each. */
  readonly ids: readonly string[];
}

/** Options of `Ruleset.checkReplaces`. */
export interface CheckOptions {
  /** Accept only rulesets signed by one of these keys (default: signatures unchecked). */
  trustedKeys?: TrustedKeys | null;
  /**
   * When the ruleset arrived over the network (Unix ms): an expired one, or one
   * with an epoch more than a day ahead, is refused. Omit for a trusted local
   * source (a bootstrap), which is taken even when expired.
   */
  now?: number | null;
}

/** A context the evaluator refuses (the message names the attribute). */
export class ContextError extends Error {
  readonly name: 'ContextError';
}

/** Attributes converted once into the evaluator's form; reuse it across evaluations. */
export class Context {
  constructor(attributes: Attributes);
  static fromJSON(text: string): Context;
  readonly key: string | undefined;
  /** Releases the WASM memory now (otherwise the garbage collector does). */
  free(): void;
}

/** A context handle, or a plain object converted for one call (slower). */
export type ContextLike = Context | Attributes;

/** A loaded, verified ruleset. Evaluations never throw (except ContextError for a bad plain object). */
export class Ruleset {
  private constructor();
  /** Decodes and verifies a `.efr` ruleset; throws DecodeError. */
  static fromBytes(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): Ruleset;
  /** A counter within the epoch; higher is newer. */
  readonly version: number;
  /** The version series: Unix ms when it began; 0 = compiled, never published. */
  readonly epoch: number;
  /** Header checksum, 16 hex digits. */
  readonly checksum: string;
  readonly environment: string;
  readonly createdAtMs: number;
  /** When it stops being fresh (Unix ms); null: it does not expire (only signed rulesets do). */
  readonly expiresAt: number | null;
  /** The id of the key its signature names (16 hex digits), or null: unsigned. Verified only with trusted keys. */
  readonly signedBy: string | null;
  /**
   * Whether it is a client ruleset (what browsers load, `<env>.client/current.efr`:
   * only client-side flags, with target keys, segment members and `in` values
   * stored as salted hashes) rather than a server ruleset (every flag, user ids
   * in clear). Its answers for client-side flags equal the server ruleset's.
   */
  readonly isClient: boolean;
  /** Whether it has expired at `now` (default: now). */
  isExpired(now?: number): boolean;
  /** Number of flags callers see (a client ruleset: its client-side flags). */
  readonly size: number;
  /** Flag keys in stored order (a client ruleset: its client-side flags only). */
  flagKeys(): string[];
  /**
   * The acceptance policy: may this ruleset replace `held` for a client of
   * `environment` (trusting `trustedKeys`, the ruleset having arrived at `now`)?
   * true = install, false = it is the held ruleset; throws DecodeError (UNSIGNED,
   * UNKNOWN_KEY, BAD_SIGNATURE, WRONG_ENVIRONMENT, EXPIRED, FUTURE_EPOCH,
   * OLDER_VERSION, VERSION_JUMP, SAME_VERSION_DIFFERS).
   */
  checkReplaces(held: Ruleset | null, environment?: string | null, options?: CheckOptions): boolean;

  evaluate(flagKey: string, ctx: ContextLike): Detail;
  /** The detail as the evaluator's JSON text (byte-identical to `edgeflag eval`). */
  evaluateJSON(flagKey: string, ctx: ContextLike, getter?: 'bool' | 'string' | 'number' | 'json'): string;
  boolDetail(flagKey: string, ctx: ContextLike): Detail<boolean>;
  stringDetail(flagKey: string, ctx: ContextLike): Detail<string>;
  numberDetail(flagKey: string, ctx: ContextLike): Detail<number>;
  jsonDetail(flagKey: string, ctx: ContextLike): Detail<Json>;

  boolValue(flagKey: string, ctx: ContextLike, defaultValue?: boolean): boolean;
  numberValue(flagKey: string, ctx: ContextLike, defaultValue?: number): number;
  stringValue(flagKey: string, ctx: ContextLike, defaultValue?: string): string;
  jsonValue<T = Json>(flagKey: string, ctx: ContextLike, defaultValue?: T): Json | T;

  /** Every flag's detail, in stored order: what a page needs to bootstrap. */
  allFlags(ctx: ContextLike): Record<string, Detail>;
  allFlagsJSON(ctx: ContextLike): string;
  free(): void;
}

export interface ClientOptions {
  /**
   * URL of `<env>/current.efr` (relative URLs resolve against the page); in a
   * browser, of the client ruleset `<env>.client/current.efr`.
   */
  url: string | URL;
  /** Poll interval; 0 = no timer (call `refresh()` / `revalidate()`). Default 30000. */
  pollIntervalMs?: number;
  /** A ruleset to serve until the first download. */
  bootstrap?: Uint8Array | ArrayBuffer | Ruleset;
  /**
   * Refuse rulesets of other environments (default: that of the first ruleset
   * accepted). A client ruleset's environment is `<env>.client`.
   */
  environment?: string;
  /** Subscribe to the origin's push channel when offered (default true). */
  events?: boolean;
  fetch?: typeof fetch;
  /** Default: the global EventSource; in Node (none there) FetchEventSource. */
  EventSource?: EventSourceLike;
  /** Extra fetch options (default in browsers: `{cache: 'no-store'}`). */
  requestInit?: RequestInit;
  /** Cap of the exponential backoff after failures (default 300000). */
  maxBackoffMs?: number;
  /**
   * Largest ruleset download accepted, in bytes (default 67109040: the format's
   * 64 MiB body and 176-byte header). A larger Content-Length is refused unread; a
   * body without one (or compressed) is read no further than this. Refused, the
   * last good ruleset keeps serving and `status().lastError` says why.
   */
  maxRulesetBytes?: number;
  /**
   * Shortest spacing of downloads triggered by pushed announcements (default 100).
   * The first announcement after a quiet spell fetches at once; announcements
   * within the spacing are coalesced into one download at its end.
   */
  minEventRefreshMs?: number;
  /**
   * Install only rulesets signed by one of these keys (`edgeflag-ed25519-public:…`;
   * an array, one string with a key per line, or a TrustedKeys). Without: nothing
   * is verified and `status().verified` is false.
   */
  publicKeys?: string | readonly string[] | TrustedKeys;
  /** A ruleset download (headers and body) not complete within this is aborted (default 10000; 0 = none). */
  fetchTimeoutMs?: number;
  /** An event stream (FetchEventSource) silent this long is dropped and reconnected (default 45000). */
  eventIdleTimeoutMs?: number;
  /**
   * Which redirects, and which event-stream Link targets, are followed (the Rust
   * client's `Redirects`): `same-origin` (default), `any`, `none` (no redirect;
   * a same-origin Link still is). Never from https to http.
   */
  redirects?: RedirectPolicy;
  /**
   * Which rulesets are installed: `client` (the default of the browser entry):
   * only client rulesets (`Ruleset.isClient`; `<env>.client/current.efr`), a
   * server ruleset downloaded or bootstrapped being refused (`SERVER_RULESET`,
   * the last good ruleset serving on); `any`: server rulesets too (the default
   * of the Node and workerd entries: servers and edge functions are trusted
   * code).
   */
  rulesets?: RulesetKind;
}

export type RedirectPolicy = 'same-origin' | 'any' | 'none';

/** The values of `ClientOptions.rulesets`. */
export type RulesetKind = 'client' | 'any';

/**
 * What failed last: a DecodeError kind (a refused ruleset; `SERVER_RULESET`: a
 * server ruleset refused by a client taking only client rulesets), or the
 * transport's.
 */
export type ClientErrorKind = 'NETWORK' | 'TIMEOUT' | 'HTTP' | 'TOO_LARGE' | 'REDIRECT' | 'SERVER_RULESET' | string;

/** A ruleset's place in its environment's history. */
export interface Position {
  epoch: number;
  version: number;
}

export interface ClientStatus {
  state: 'loading' | 'ready' | 'stale' | 'closed';
  version: number | null;
  epoch: number | null;
  /** Set while the origin serves an older ruleset than the one held (kept). */
  originBehind: { held: Position; served: Position } | null;
  /** Downloads refused as older than the held ruleset, since creation. */
  refusedOlder: number;
  environment: string | null;
  etag: string | null;
  lastSuccessAt: number | null;
  /** What failed last, `"<KIND>: <reason>"` for a refused ruleset. */
  lastError: string | null;
  lastErrorKind: ClientErrorKind | null;
  consecutiveFailures: number;
  streaming: boolean;
  nextPollInMs: number | null;
  /** Whether signatures are checked (`publicKeys` given). */
  verified: boolean;
  /** With `publicKeys`: the id of the key that signed the held ruleset; else null. */
  signedBy: string | null;
  /** When the held ruleset expires (Unix ms), or null. */
  expiresAt: number | null;
  /**
   * The held ruleset has expired and is still served (no newer one arrived).
   * Not `state: 'stale'`, which means the last check failed.
   */
  stale: boolean;
  /** Why the origin's event stream is not followed (its Link broke the redirect policy), or null. */
  eventsRefused: string | null;
}

export interface Client {
  readonly ruleset: Ruleset | null;
  ready(): Promise<Ruleset>;
  refresh(): Promise<ClientStatus>;
  revalidate(maxAgeMs?: number): Promise<ClientStatus>;
  status(): ClientStatus;
  onChange(listener: (ruleset: Ruleset, previous: Ruleset | null) => void): () => void;
  onStatus(listener: (status: ClientStatus) => void): () => void;
  close(): void;
  evaluate(flagKey: string, ctx: ContextLike): Detail;
  boolValue(flagKey: string, ctx: ContextLike, defaultValue?: boolean): boolean;
  numberValue(flagKey: string, ctx: ContextLike, defaultValue?: number): number;
  stringValue(flagKey: string, ctx: ContextLike, defaultValue?: string): string;
  jsonValue<T = Json>(flagKey: string, ctx: ContextLike, defaultValue?: T): Json | T;
  allFlags(ctx: ContextLike): Record<string, Detail>;
}

export function createClient(options: ClientOptions): Client;
export function eventsLink(header: string | null, base: string): string | null;
export function retryAfterMs(value: string | null, now?: number): number | null;
/** Why the client would not follow `next` from `first` under `policy`, or null. */
export function redirectRefusal(policy: RedirectPolicy, first: string, next: string, options?: { isRedirect?: boolean }): string | null;

/** What the client needs of an EventSource. */
export interface EventSourceLike {
  new (url: string, options?: { idleTimeoutMs?: number; redirects?: RedirectPolicy }): {
    addEventListener(type: string, listener: (event: { data?: string }) => void): void;
    close(): void;
  };
}

/** Options of FetchEventSource. */
export interface FetchEventSourceOptions {
  fetch?: typeof fetch;
  /**
   * Shortest wait before a reconnection, whatever the server's `retry` (default
   * 1000). The wait is `max(retry, minReconnectMs) · 2^(n-1)` after n failures in
   * a row (capped at `maxReconnectMs`), with equal jitter, never below this.
   */
  minReconnectMs?: number;
  /** Longest wait before a reconnection (default 60000). */
  maxReconnectMs?: number;
  /** A stream open this long resets the failure count (default 30000). */
  stableMs?: number;
  /** Source of jitter in [0, 1) (default Math.random). */
  random?: () => number;
  /** Nothing read for this long (the origin sends a comment every 15 s): reconnect (default 45000; 0 = never). */
  idleTimeoutMs?: number;
  /** A redirected stream to a URL this policy refuses is closed (default `same-origin`). */
  redirects?: RedirectPolicy;
}

/**
 * A minimal EventSource over fetch and a streamed body (used in Node). A line or
 * an event longer than 64 Ki characters closes the connection (an `error`, then a
 * reconnection with backoff).
 */
export class FetchEventSource {
  constructor(url: string, options?: FetchEventSourceOptions);
  readonly url: string;
  addEventListener(type: string, listener: (event: { type: string; data?: string; lastEventId?: string; error?: unknown }) => void): void;
  removeEventListener(type: string, listener: (event: { type: string; data?: string }) => void): void;
  close(): void;
}
