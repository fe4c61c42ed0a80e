import type {
  EvaluationContext, Hook, JsonValue, OpenFeatureEventEmitter, Provider, ResolutionDetails,
} from '@openfeature/server-sdk';
import type { Ruleset } from '../index.js';
import type { EdgeflagProviderOptions, EdgeflagSource } from './common.js';

export {
  attributesOf, openFeatureReason, openFeatureErrorCode, InvalidContextError, MAX_CONTEXT_DEPTH,
  type EdgeflagSource, type EdgeflagProviderOptions, type EdgeflagFlagMetadata, type OpenFeatureContextLike,
} from './common.js';

/**
 * The edgeflag provider for `@openfeature/server-sdk` (Node, edge functions):
 * resolves in memory against the ruleset of a client (`createClient`) or a
 * given Ruleset. Status: NOT_READY until the first ruleset, READY, STALE once
 * it has expired; PROVIDER_CONFIGURATION_CHANGED for each new ruleset.
 */
export declare class EdgeflagProvider implements Provider {
  constructor(source: EdgeflagSource, options?: EdgeflagProviderOptions);
  readonly metadata: { readonly name: 'edgeflag' };
  readonly runsOn: 'server';
  readonly hooks: Hook[];
  readonly events: OpenFeatureEventEmitter;
  /** The ruleset resolves read now (null before the first). */
  readonly ruleset: Ruleset | null;
  initialize(context?: EvaluationContext): Promise<void>;
  /** Stops listening to the client (the client is the caller's to close). */
  onClose(): Promise<void>;
  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>>;
  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>>;
  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>>;
  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>>;
}
