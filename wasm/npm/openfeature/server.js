// The OpenFeature server provider (`@openfeature/server-sdk`, a peer
// dependency): Node, and edge functions (workerd). Every resolve evaluates in
// memory against the ruleset the client holds (or the Ruleset given): no
// request, no wait. Import an entry of this package first (`@edgeflag/evaluator`,
// which loads the WebAssembly module) to create the client.
//
//   import { createClient } from '@edgeflag/evaluator';
//   import { EdgeflagProvider } from '@edgeflag/evaluator/openfeature/server';
//   await OpenFeature.setProviderAndWait(new EdgeflagProvider(createClient({ url })));
import { OpenFeatureEventEmitter, ProviderEvents, ProviderNotReadyError } from '@openfeature/server-sdk';
import { ContextError } from '../core.js';
import { DETAIL, emitIfStale, emitSwap, InvalidContextError, Source, contextOf, errorResolution, resolutionOf } from './common.js';

export { attributesOf, openFeatureReason, openFeatureErrorCode, InvalidContextError, MAX_CONTEXT_DEPTH } from './common.js';

/**
 * Status (the SDK keeps it from `initialize` and these events): NOT_READY
 * until the first ruleset (`initialize` waits for it; with `initTimeoutMs` it
 * rejects after that long, ERROR, and PROVIDER_READY follows the first
 * ruleset); READY; STALE (PROVIDER_STALE) once the held ruleset has expired,
 * READY again when a fresh one arrives. Each new ruleset after the first is
 * PROVIDER_CONFIGURATION_CHANGED.
 */
export class EdgeflagProvider {
  /**
   * @param source a client (`createClient`), a Ruleset, or `{client}` / `{ruleset}`
   * @param options `initTimeoutMs`: how long `initialize` waits for a first ruleset (default 0: until it comes)
   */
  constructor(source, { initTimeoutMs = 0 } = {}) {
    this.metadata = { name: 'edgeflag' };
    this.runsOn = 'server';
    this.hooks = [];
    this.events = new OpenFeatureEventEmitter();
    this._source = new Source(source);
    this._initTimeoutMs = initTimeoutMs;
    this._initFailed = false;
    this._stale = false;
    this._unwatch = this._source.watch((rs, previous) => this._swapped(rs, previous), () => this._checkStale());
  }

  /** The source's current ruleset (null before the first). */
  get ruleset() {
    return this._source.ruleset;
  }

  async initialize() {
    try {
      await this._source.ready(this._initTimeoutMs);
    } catch (e) {
      this._initFailed = true;
      throw new ProviderNotReadyError(e instanceof Error ? e.message : String(e));
    }
    // The SDK sets READY when this resolves; an expired ruleset is STALE after that.
    if (this._source.ruleset.isExpired()) setTimeout(() => this._checkStale(), 0);
  }

  async onClose() {
    this._unwatch();
  }

  _swapped(rs, previous) {
    emitSwap(this, ProviderEvents, rs, previous);
  }

  _checkStale() {
    emitIfStale(this, ProviderEvents);
  }

  _resolve(flagKey, type, defaultValue, context) {
    const rs = this._source.ruleset;
    if (!rs) {
      const st = this._source.client?.status();
      return errorResolution(defaultValue, 'PROVIDER_NOT_READY',
        `edgeflag: no ruleset yet${st?.lastError ? ` (last error: ${st.lastError})` : ''}`);
    }
    if (!this._stale && rs.isExpired()) this._checkStale();
    let ctx;
    try {
      ctx = contextOf(context);
    } catch (e) {
      if (e instanceof InvalidContextError || e instanceof ContextError) return errorResolution(defaultValue, 'INVALID_CONTEXT', e.message);
      throw e;
    }
    try {
      return resolutionOf(rs, flagKey, type, defaultValue, rs[DETAIL[type]](flagKey, ctx));
    } finally {
      ctx.free();
    }
  }

  async resolveBooleanEvaluation(flagKey, defaultValue, context) {
    return this._resolve(flagKey, 'boolean', defaultValue, context);
  }

  async resolveStringEvaluation(flagKey, defaultValue, context) {
    return this._resolve(flagKey, 'string', defaultValue, context);
  }

  async resolveNumberEvaluation(flagKey, defaultValue, context) {
    return this._resolve(flagKey, 'number', defaultValue, context);
  }

  async resolveObjectEvaluation(flagKey, defaultValue, context) {
    return this._resolve(flagKey, 'object', defaultValue, context);
  }
}
