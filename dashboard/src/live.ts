// Validation as you type: the server's own checks (crate validate/, the
// compiler built to WASM, loaded lazily on pages with editors) run on the
// project the page holds with the edited resource replaced; the problems are
// an ApiError like a 422's, shown by the same code.
import { ApiError, type Problem } from './api';

type Validate = (project: string) => string;
let loading: Promise<Validate> | null = null;
let base: Promise<Record<string, unknown>> | null = null;

function validator(): Promise<Validate> {
  loading ??= import('./gen/validate.js').then(async (m) => {
    await m.default();
    return m.validate as Validate;
  });
  return loading;
}

/** The project as one object: the files of GET /api/v1/project merged. */
function project(): Promise<Record<string, unknown>> {
  base ??= fetch('/api/v1/project', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then((r) => r.json() as Promise<{ files: { text: string }[] }>)
    .then((f) => {
      const out: Record<string, unknown> = { flags: {}, segments: {} };
      for (const file of f.files) {
        for (const [k, v] of Object.entries(JSON.parse(file.text) as Record<string, unknown>)) {
          if (k === 'flags' || k === 'segments') Object.assign(out[k] as object, v);
          else out[k] = v;
        }
      }
      return out;
    });
  return base;
}

/** Forgets the project read (after a save: the next check reads it again). */
export function reset(): void { base = null; }

/**
 * Calls `show` ~150 ms after the last call with the problems of the project
 * with `kind` `key` set to what `definition()` returns (an ApiError, or null
 * when there are none).
 */
export function live(kind: 'flags' | 'segments', key: string, definition: () => unknown,
  show: (err: ApiError | null, count: number) => void): () => void {
  let timer = 0;
  return () => {
    clearTimeout(timer);
    timer = window.setTimeout(async () => {
      try {
        const [validate, p] = await Promise.all([validator(), project()]);
        const copy = { ...p, [kind]: { ...(p[kind] as object), [key]: definition() } };
        const problems = (JSON.parse(validate(JSON.stringify(copy))) as Problem[])
          .filter((x) => x.kind === kind.slice(0, -1) && x.key === key || x.kind === 'project');
        show(problems.length ? new ApiError(422, `${problems.length} problems`, problems) : null, problems.length);
      } catch {
        // No WASM or no project: the server still checks on save.
      }
    }, 150);
  };
}

export function count(n: number): string {
  return n === 0 ? '' : n === 1 ? '1 problem' : `${n} problems`;
}
