// Form editors for the rule language: clauses (every operator), rules with
// what they serve, and problems of a 422 shown next to the field whose JSON
// path they name.
import { ApiError, type Problem } from './api';
import { h } from './dom';

export interface Clause {
  attribute?: string;
  op: string;
  values: unknown[];
  negate?: boolean;
}

export interface Rule {
  id?: string;
  clauses: Clause[];
  serve?: unknown;
}

/** Every operator of the rule language (docs/rule-language.md §7). */
export const OPERATORS: [string, string][] = [
  ['in', 'in (is one of)'], ['starts_with', 'starts_with'], ['ends_with', 'ends_with'], ['contains', 'contains'],
  ['matches', 'matches (regex)'], ['lt', 'lt (<)'], ['lte', 'lte (≤)'], ['gt', 'gt (>)'], ['gte', 'gte (≥)'],
  ['semver_eq', 'semver_eq'], ['semver_lt', 'semver_lt'], ['semver_gt', 'semver_gt'],
  ['before', 'before (time)'], ['after', 'after (time)'], ['in_segment', 'in_segment'],
];
const NUMERIC = new Set(['lt', 'lte', 'gt', 'gte']);

function valueType(c: Clause): string {
  const t = typeof c.values[0];
  return t === 'number' || t === 'boolean' ? t : 'string';
}

/** The values typed one per line, as the operator wants them. */
function parseValues(text: string, op: string, type: string): unknown[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const num = (l: string) => (Number.isFinite(Number(l)) ? Number(l) : l);
  if (NUMERIC.has(op) || (op === 'in' && type === 'number')) return lines.map(num);
  if (op === 'in' && type === 'boolean') return lines.map((l) => (l === 'true' ? true : l === 'false' ? false : l));
  if (op === 'before' || op === 'after') return lines.map((l) => (/^-?\d+$/.test(l) ? Number(l) : l));
  return lines;
}

/** A field wrapper that problems at `path` (or below it) are shown in. */
export function field(path: string, ...children: (Node | null)[]): HTMLElement {
  return h('div', { class: 'field', 'data-path': path }, ...children,
    h('p', { class: 'error field-error', role: 'alert' }));
}

let problemIds = 0;

/**
 * Shows each problem in the field of its JSON path (or the nearest enclosing
 * one); returns the text of those no field took.
 */
export function showProblems(root: HTMLElement, err: unknown): string {
  for (const e of root.querySelectorAll('.field-error')) e.textContent = '';
  for (const e of root.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  const problems: Problem[] = err instanceof ApiError ? err.problems : [];
  if (!problems.length) return err instanceof Error ? err.message : String(err);
  const fields = new Map<string, HTMLElement>();
  for (const f of root.querySelectorAll<HTMLElement>('[data-path]')) fields.set(f.dataset.path!, f);
  const rest: string[] = [];
  for (const p of problems) {
    let path = p.path ?? '';
    let f = fields.get(path);
    while (!f && path.length > 1) {
      path = path.replace(/(\.[^.[\]]+|\[\d+\])$/, '') || '';
      if (!/[.[]/.test(path)) break;
      f = fields.get(path);
    }
    if (!f) { rest.push(`${p.path ?? ''}: ${p.message}`); continue; }
    const slot = f.querySelector(':scope > .field-error')!;
    slot.textContent = (slot.textContent ? `${slot.textContent}\n` : '') + p.message;
    slot.id ||= `problem-${++problemIds}`;
    const input = f.querySelector(':scope > input, :scope > select, :scope > textarea');
    input?.setAttribute('aria-invalid', 'true');
    input?.setAttribute('aria-describedby', slot.id);
  }
  return rest.join('\n');
}

/** One clause as a form; `changed` after an edit, `rerender` after a change of shape. */
export function clauseEditor(c: Clause, path: string, idp: string, name: string, segments: string[],
  changed: () => void, rerender: () => void, remove: () => void, disabled: boolean): HTMLElement {
  const op = h('select', { id: `${idp}-op`, disabled },
    ...OPERATORS.map(([v, t]) => h('option', { value: v, selected: v === c.op }, t)));
  const negate = h('input', { id: `${idp}-negate`, type: 'checkbox', checked: c.negate === true, disabled });
  negate.addEventListener('change', () => { c.negate = negate.checked || undefined; changed(); });
  const del = h('button', { type: 'button', 'aria-label': `Remove ${name}`, disabled }, 'Remove');
  del.addEventListener('click', remove);
  let what: HTMLElement;
  let values: HTMLElement;
  if (c.op === 'in_segment') {
    what = h('div', { class: 'attr' }, h('span', { class: 'muted small' }, 'the context'));
    const known = [...new Set([...segments, ...c.values.map(String)])];
    values = field(`${path}.values`, h('fieldset', { class: 'checks' },
      h('legend', {}, 'Segments'),
      known.length ? null : h('span', { class: 'muted small' }, 'no segments yet'),
      ...known.map((s, n) => {
        const box = h('input', { id: `${idp}-seg-${n}`, type: 'checkbox', checked: c.values.includes(s), disabled });
        box.addEventListener('change', () => {
          c.values = box.checked ? [...c.values.filter((v) => v !== s), s] : c.values.filter((v) => v !== s);
          changed();
        });
        return h('span', { class: 'check' }, box, h('label', { for: `${idp}-seg-${n}` }, s));
      })));
  } else {
    const attr = h('input', { id: `${idp}-attr`, value: c.attribute ?? '', placeholder: 'country', disabled });
    attr.addEventListener('input', () => { c.attribute = attr.value; changed(); });
    what = field(`${path}.attribute`, h('label', { for: `${idp}-attr` }, 'Attribute'), attr);
    const type = h('select', { id: `${idp}-type`, disabled },
      ...['string', 'number', 'boolean'].map((t) => h('option', { value: t, selected: t === valueType(c) }, t)));
    const text = h('textarea', { id: `${idp}-values`, rows: Math.max(1, c.values.length), disabled },
      c.values.map(String).join('\n'));
    const read = () => { c.values = parseValues(text.value, c.op, type.value); changed(); };
    text.addEventListener('input', read);
    type.addEventListener('change', read);
    values = h('div', { class: 'values' },
      field(`${path}.values`, h('label', { for: `${idp}-values` }, 'Values (one per line)'), text),
      c.op === 'in' ? h('div', {}, h('label', { for: `${idp}-type` }, 'Type'), type) : null);
  }
  op.addEventListener('change', () => {
    const was = c.op;
    c.op = op.value;
    if ((was === 'in_segment') !== (c.op === 'in_segment')) {
      c.values = [];
      if (c.op === 'in_segment') delete c.attribute;
      else c.attribute = '';
    } else {
      c.values = parseValues(c.values.map(String).join('\n'), c.op, valueType(c));
    }
    changed();
    rerender();
    document.getElementById(`${idp}-op`)?.focus();
  });
  return h('div', { class: 'clause', 'data-testid': idp },
    what,
    field(`${path}.op`, h('label', { for: `${idp}-op` }, 'Operator'), op),
    values,
    field(`${path}.negate`, h('span', { class: 'check' }, negate, h('label', { for: `${idp}-negate` }, 'not'))),
    h('div', {}, del));
}

/** The clauses of one rule, with buttons to add attribute and segment clauses. */
export function clausesEditor(clauses: Clause[], path: string, idp: string, segments: string[],
  changed: () => void, rerender: () => void, disabled: boolean): HTMLElement {
  const add = (c: Clause) => () => {
    clauses.push(c);
    changed();
    rerender();
    const n = clauses.length - 1;
    document.getElementById(`${idp}-c${n}-${c.op === 'in_segment' ? 'op' : 'attr'}`)?.focus();
  };
  const addClause = h('button', { type: 'button', id: `${idp}-add`, disabled }, '+ Clause');
  addClause.addEventListener('click', add({ attribute: '', op: 'in', values: [] }));
  const addSegment = h('button', { type: 'button', disabled }, '+ Segment clause');
  addSegment.addEventListener('click', add({ op: 'in_segment', values: [] }));
  return field(`${path}.clauses`,
    ...clauses.map((c, j) => clauseEditor(c, `${path}.clauses[${j}]`, `${idp}-c${j}`, `clause ${j + 1}`, segments,
      changed, rerender, () => {
        clauses.splice(j, 1);
        changed();
        rerender();
        document.getElementById(`${idp}-add`)?.focus();
      }, disabled)),
    clauses.length ? null : h('p', { class: 'muted small' }, 'No clauses: matches every context.'),
    h('div', { class: 'inline' }, addClause, addSegment));
}

/** What a rule serves: one variation, or a rollout with a weight per variation. */
export function serveEditor(rule: Rule, path: string, idp: string, variations: string[],
  changed: () => void, rerender: () => void, disabled: boolean): HTMLElement {
  const serve = rule.serve;
  const rollout = serve && typeof serve === 'object' ? serve as { rollout?: Record<string, number>; bucket_by?: string } : null;
  const select = h('select', { id: `${idp}-serve`, disabled },
    serve === undefined ? h('option', { value: '', selected: true, disabled: true }, 'choose…') : null,
    ...variations.map((v) => h('option', { value: `v:${v}`, selected: serve === v }, `“${v}”`)),
    h('option', { value: 'rollout', selected: !!rollout }, 'a percentage rollout'));
  select.addEventListener('change', () => {
    rule.serve = select.value === 'rollout'
      ? { rollout: Object.fromEntries(variations.map((v, n) => [v, n === 0 ? 100 : 0])) }
      : select.value.slice(2);
    changed();
    rerender();
    document.getElementById(`${idp}-serve`)?.focus();
  });
  let weights: HTMLElement | null = null;
  if (rollout) {
    const r = rollout.rollout ?? (rollout.rollout = {});
    const by = h('input', { id: `${idp}-bucket`, value: rollout.bucket_by ?? '', placeholder: 'key', disabled });
    by.addEventListener('input', () => {
      if (by.value) rollout.bucket_by = by.value; else delete rollout.bucket_by;
      changed();
    });
    weights = h('div', { class: 'weights' }, ...variations.map((v) => {
      const w = h('input', { id: `${idp}-w-${v}`, type: 'number', min: 0, max: 100, step: 0.001, value: r[v] ?? 0, disabled });
      w.addEventListener('input', () => { r[v] = Number(w.value); changed(); });
      return h('div', {}, h('label', { for: `${idp}-w-${v}` }, `${v} %`), w);
    }), h('div', {}, h('label', { for: `${idp}-bucket` }, 'Bucket by'), by));
  }
  return field(`${path}.serve`, h('label', { for: `${idp}-serve` }, 'Serve'), select, weights);
}

/** A rule as the rule language wants it (no empty id, no `negate: false`). */
export function cleanRule(r: Rule, withServe = true): Rule {
  const clauses = r.clauses.map((c) => ({
    ...(c.op === 'in_segment' ? {} : { attribute: c.attribute ?? '' }),
    op: c.op, values: c.values, ...(c.negate ? { negate: true } : {}),
  }));
  return { ...(r.id ? { id: r.id } : {}), clauses, ...(withServe ? { serve: r.serve } : {}) };
}

/** Copies rules from a definition into editable objects. */
export function rulesOf(v: unknown): Rule[] {
  if (!Array.isArray(v)) return [];
  return (JSON.parse(JSON.stringify(v)) as Rule[]).map((r) => ({ ...r, clauses: r.clauses ?? [] }));
}
