import type {
  EvaluationContext, Hook, JsonValue, OpenFeatureEventEmitter, Provider, ResolutionDetails,
} from '@openfeature/web-sdk';
import type { Ruleset } from '../index.js';
import type { EdgeflagProviderOptions, EdgeflagSource } from './common.js';

export {
  attributesOf, openFeatureReason, openFeatureErrorCode, InvalidContextError, MAX_CONTEXT_DEPTH,
  type EdgeflagSource, type EdgeflagProviderOptions, type EdgeflagFlagMetadata, type OpenFeatureContextLike,
} from './common.js';

/**
 * The edgeflag provider for `@openfeature/web-sdk` (static context): every
 * flag is evaluated when the context changes or a ruleset arrives, and
 * resolves read that synchronously. Status: NOT_READY until the first
 * ruleset, READY, STALE once it has expired; PROVIDER_CONFIGURATION_CHANGED
 * (with `flagsChanged`) for each new ruleset.
 */
export declare class EdgeflagWebProvider implements Provider {
  constructor(source: EdgeflagSource, options?: EdgeflagProviderOptions);
  readonly metadata: { readonly name: 'edgeflag' };
  readonly runsOn: 'client';
  readonly hooks: Hook[];
  readonly events: OpenFeatureEventEmitter;
  /** The ruleset resolves read now (null before the first). */
  readonly ruleset: Ruleset | null;
  initialize(context?: EvaluationContext): Promise<void>;
  /** Evaluates every flag for the new context, synchronously. */
  onContextChange(oldContext: EvaluationContext, newContext: EvaluationContext): void;
  /** Stops listening to the client (the client is the caller's to close). */
  onClose(): Promise<void>;
  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): ResolutionDetails<boolean>;
  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): ResolutionDetails<string>;
  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): ResolutionDetails<number>;
  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): ResolutionDetails<T>;
}
