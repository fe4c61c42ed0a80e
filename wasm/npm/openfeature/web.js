// The OpenFeature web provider (`@openfeature/web-sdk`, a peer dependency):
// the static-context paradigm. When the context changes (`initialize`,
// `onContextChange`) or a new ruleset arrives, every flag is evaluated once
// for that context (`allFlags`); resolves then read that result synchronously.
// Import an entry of this package first (`@edgeflag/evaluator`, which loads the
// WebAssembly module) to create the client.
//
//   import { createClient } from '@edgeflag/evaluator';
//   import { EdgeflagWebProvider } from '@edgeflag/evaluator/openfeature/web';
//   OpenFeature.setProvider(new EdgeflagWebProvider(createClient({ url })), { targetingKey: 'user-7' });
import { OpenFeatureEventEmitter, ProviderEvents, ProviderNotReadyError } from '@openfeature/web-sdk';
import { ContextError } from '../core.js';
import { InvalidContextError, Source, contextOf, emitIfStale, emitSwap, errorResolution, resolutionOf } from './common.js';

export { attributesOf, openFeatureReason, openFeatureErrorCode, InvalidContextError, MAX_CONTEXT_DEPTH } from './common.js';

/** Flags whose detail (value, variation, reason) differs between two evaluations. */
function changedFlags(before, after) {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [];
  for (const k of keys) {
    const a = Object.hasOwn(before, k) ? JSON.stringify(before[k]) : undefined;
    const b = Object.hasOwn(after, k) ? JSON.stringify(after[k]) : undefined;
    if (a !== b) changed.push(k);
  }
  return changed;
}

/**
 * Status (the SDK keeps it from `initialize` and these events): NOT_READY
 * until the first ruleset (`initialize` waits for it; with `initTimeoutMs` it
 * rejects after that long, ERROR, and PROVIDER_READY follows the first
 * ruleset); READY; STALE once the held ruleset has expired (READY again when a
 * fresh one arrives). A context change is evaluated synchronously, so the SDK
 * goes straight to PROVIDER_CONTEXT_CHANGED (no RECONCILING). Each new ruleset
 * after the first is PROVIDER_CONFIGURATION_CHANGED with `flagsChanged`: the
 * flags whose value, variant or reason changed for the current context.
 */
export class EdgeflagWebProvider {
  /**
   * @param source a client (`createClient`), a Ruleset, or `{client}` / `{ruleset}`
   * @param options `initTimeoutMs`: how long `initialize` waits for a first ruleset (default 0: until it comes)
   */
  constructor(source, { initTimeoutMs = 0 } = {}) {
    this.metadata = { name: 'edgeflag' };
    this.runsOn = 'client';
    this.hooks = [];
    this.events = new OpenFeatureEventEmitter();
    this._source = new Source(source);
    this._initTimeoutMs = initTimeoutMs;
    this._initFailed = false;
    this._stale = false;
    this._context = {};
    /** { ruleset, details } or { ruleset, error } for the current context, or null. */
    this._evaluated = null;
    this._unwatch = this._source.watch((rs, previous) => this._swapped(rs, previous), () => this._checkStale());
  }

  /** The source's current ruleset (null before the first). */
  get ruleset() {
    return this._source.ruleset;
  }

  async initialize(context) {
    this._context = context ?? {};
    let rs;
    try {
      rs = await this._source.ready(this._initTimeoutMs);
    } catch (e) {
      this._initFailed = true;
      throw new ProviderNotReadyError(e instanceof Error ? e.message : String(e));
    }
    if (this._evaluated?.ruleset !== rs) this._evaluated = this._evaluate(rs);
    if (rs.isExpired()) setTimeout(() => this._checkStale(), 0);
  }

  /** Synchronous: the SDK emits PROVIDER_CONTEXT_CHANGED when it returns. */
  onContextChange(_oldContext, newContext) {
    this._context = newContext ?? {};
    const rs = this._source.ruleset;
    this._evaluated = rs ? this._evaluate(rs) : null;
  }

  async onClose() {
    this._unwatch();
  }

  /** Every flag for the current context, or the reason the context has no edgeflag form. */
  _evaluate(rs) {
    let ctx;
    try {
      ctx = contextOf(this._context);
    } catch (e) {
      if (e instanceof InvalidContextError || e instanceof ContextError) return { ruleset: rs, details: {}, error: e.message };
      throw e;
    }
    try {
      return { ruleset: rs, details: rs.allFlags(ctx), error: null };
    } finally {
      ctx.free();
    }
  }

  _swapped(rs, previous) {
    const before = this._evaluated;
    this._evaluated = this._evaluate(rs);
    emitSwap(this, ProviderEvents, rs, previous, { flagsChanged: changedFlags(before?.details ?? {}, this._evaluated.details) });
  }

  _checkStale() {
    emitIfStale(this, ProviderEvents);
  }

  _resolve(flagKey, type, defaultValue) {
    const rs = this._source.ruleset;
    if (!rs) {
      const st = this._source.client?.status();
      return errorResolution(defaultValue, 'PROVIDER_NOT_READY',
        `edgeflag: no ruleset yet${st?.lastError ? ` (last error: ${st.lastError})` : ''}`);
    }
    // A swap re-evaluates at once; this only catches a ruleset swapped in
    // before the provider was listening.
    if (this._evaluated?.ruleset !== rs) this._evaluated = this._evaluate(rs);
    if (!this._stale && rs.isExpired()) this._checkStale();
    const { details, error } = this._evaluated;
    if (error !== null) return errorResolution(defaultValue, 'INVALID_CONTEXT', error);
    const detail = Object.hasOwn(details, flagKey)
      ? details[flagKey]
      : { value: null, variation: null, reason: { kind: 'ERROR', error_kind: 'FLAG_NOT_FOUND' }, in_rollout: false };
    return resolutionOf(rs, flagKey, type, defaultValue, detail);
  }

  resolveBooleanEvaluation(flagKey, defaultValue) {
    return this._resolve(flagKey, 'boolean', defaultValue);
  }

  resolveStringEvaluation(flagKey, defaultValue) {
    return this._resolve(flagKey, 'string', defaultValue);
  }

  resolveNumberEvaluation(flagKey, defaultValue) {
    return this._resolve(flagKey, 'number', defaultValue);
  }

  resolveObjectEvaluation(flagKey, defaultValue) {
    return this._resolve(flagKey, 'object', defaultValue);
  }
}
