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
   * from `checkReplaces` and the client also WRONG_ENVIRONMENT, OLDER_VERSION and
   * SAME_VERSION_DIFFERS.
   */
  readonly kind: string;
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
  readonly size: number;
  flagKeys(): string[];
  /**
   * The acceptance policy: may this ruleset replace `held` for a client of
   * `environment`? true = install, false = it is the held ruleset; throws
   * DecodeError (WRONG_ENVIRONMENT, OLDER_VERSION, SAME_VERSION_DIFFERS).
   */
  checkReplaces(held: Ruleset | null, environment?: string | null): boolean;

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
  /** URL of `<env>/current.efr` (relative URLs resolve against the page). */
  url: string | URL;
  /** Poll interval; 0 = no timer (call `refresh()` / `revalidate()`). Default 30000. */
  pollIntervalMs?: number;
  /** A ruleset to serve until the first download. */
  bootstrap?: Uint8Array | ArrayBuffer | Ruleset;
  /** Refuse rulesets of other environments (default: that of the first ruleset accepted). */
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
}

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
  lastError: string | null;
  consecutiveFailures: number;
  streaming: boolean;
  nextPollInMs: number | null;
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

/** What the client needs of an EventSource. */
export interface EventSourceLike {
  new (url: string): {
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
