import type { Attributes, Client, Detail, Ruleset } from '../index.js';

/** Deepest nesting of objects the context rule flattens (8). */
export declare const MAX_CONTEXT_DEPTH: number;

/** An OpenFeature context with no edgeflag form (OpenFeature's INVALID_CONTEXT). */
export declare class InvalidContextError extends Error {
  readonly name: 'InvalidContextError';
  /** The attribute, as a dotted path (`address.country`). */
  readonly path: string;
  /** What is wrong with it. */
  readonly reason: string;
}

/** An OpenFeature evaluation context as the providers read it (its JSON form). */
export type OpenFeatureContextLike = { targetingKey?: string; [name: string]: unknown };

/**
 * The edgeflag attributes of an OpenFeature evaluation context: `targetingKey`
 * (else a string `key`) is the key, nested objects are flattened with dots
 * (depth ≤ 8), a Date is its ISO text, lists hold strings and numbers. The
 * rule of the evaluator's `json::context_from_openfeature`. Throws
 * InvalidContextError.
 */
export declare function attributesOf(context: OpenFeatureContextLike | null | undefined): Attributes;

/** OpenFeature's reason for an edgeflag detail (the one mapping, tests/vectors/openfeature.json). */
export declare function openFeatureReason(detail: Detail<unknown>): 'DISABLED' | 'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT' | 'ERROR';

/** OpenFeature's error code for an edgeflag error kind (`WRONG_TYPE` → `TYPE_MISMATCH`). */
export declare function openFeatureErrorCode(errorKind: string): 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'PROVIDER_NOT_READY' | 'GENERAL';

/** What a provider reads: a client kept fresh from an origin, or a fixed ruleset. */
export type EdgeflagSource = Client | Ruleset | { client: Client } | { ruleset: Ruleset };

export interface EdgeflagProviderOptions {
  /**
   * How long `initialize` waits for a first ruleset; past it, it rejects (the
   * SDK's status is ERROR) and PROVIDER_READY follows the first ruleset.
   * Default 0: it waits until one comes (status NOT_READY meanwhile).
   */
  initTimeoutMs?: number;
}

/**
 * The flag metadata of a successful resolution (the Rust provider's keys):
 * `reason` is the edgeflag reason kind (`RULE_MATCH`, `FALLTHROUGH`, …).
 */
export interface EdgeflagFlagMetadata {
  reason: string;
  rule_index?: number;
  rule_id?: string;
  prerequisite?: string;
  version: number;
  epoch: number;
  environment: string;
  /** Present (true) when the ruleset has expired and is still served. */
  stale?: true;
}
