// The flag page's targeting in one environment: individual targets, rules
// (form editor, reorder) and prerequisites.
import { api, type Resource } from './api';
import { h, mount } from './dom';
import { count, live } from './live';
import { clausesEditor, cleanRule, field, rulesOf, serveEditor, showProblems, type Rule } from './rules';

export interface Ctx {
  flag: Resource;
  env: string;
  fields: Record<string, unknown>;
  overridden: string[];
  variations: string[];
  segments: string[];
  flags: string[];
  canChange: boolean;
  reload: () => Promise<void>;
}

function keysOf(text: string): string[] {
  return text.split(/[\s,]+/).filter((k) => k !== '');
}

/** The definition with `environments.<env>.<name>` set to `value`. */
function withOverride(def: Record<string, unknown>, env: string, name: string, value: unknown): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(def)) as Record<string, unknown>;
  const envs = (copy.environments ??= {}) as Record<string, Record<string, unknown>>;
  (envs[env] ??= {})[name] = value;
  return copy;
}

function source(ctx: Ctx, name: string): string {
  return ctx.overridden.includes(name) ? `set for ${ctx.env}`
    : `from the flag's base definition; a change here overrides it in ${ctx.env}`;
}

export function targetsCard(ctx: Ctx): HTMLElement {
  const targets = (ctx.fields.targets ?? {}) as Record<string, string[]>;
  const message = h('p', { class: 'error', role: 'alert' });
  const run = async (variation: string, add: string[], remove: string[]) => {
    message.textContent = '';
    try {
      await api.targets(ctx.flag.key, ctx.env, variation, add, remove);
      await ctx.reload();
    } catch (err) { message.textContent = showProblems(document.body, err); }
  };
  return h('section', { class: 'card', 'aria-labelledby': 'targets-title' },
    h('h2', { id: 'targets-title' }, 'Individual targets'),
    h('p', { class: 'muted small' }, `Context keys that always get a variation (${source(ctx, 'targets')}).`),
    ...ctx.variations.map((v) => {
      const input = h('input', { id: `target-${v}`, placeholder: 'user-42, user-43', disabled: !ctx.canChange });
      const add = h('button', { type: 'submit', disabled: !ctx.canChange }, 'Add');
      const form = h('form', { class: 'inline target-row', 'data-testid': `targets-${v}` },
        h('div', { class: 'grow' },
          h('label', { for: `target-${v}` }, `Add keys served “${v}”`), input),
        add);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const keys = keysOf(input.value);
        if (keys.length) void run(v, keys, []);
      });
      const list = targets[v] ?? [];
      return h('div', { class: 'target-group' },
        h('h3', {}, `“${v}”`, h('span', { class: 'muted small' }, ` · ${list.length} key${list.length === 1 ? '' : 's'}`)),
        h('ul', { class: 'keys' }, ...list.map((k) => {
          const del = h('button', { type: 'button', class: 'x', 'aria-label': `Remove target ${k} from “${v}”`, disabled: !ctx.canChange }, '×');
          del.addEventListener('click', () => void run(v, [], [k]));
          return h('li', { class: 'tag' }, k, ' ', del);
        })),
        form);
    }),
    message);
}

export function rulesCard(ctx: Ctx): HTMLElement {
  const rules: Rule[] = rulesOf(ctx.fields.rules);
  const base = `$.environments.${ctx.env}.rules`;
  const list = h('div', {});
  const message = h('p', { class: 'error', role: 'alert', 'data-testid': 'rules-message' });
  const status = h('span', { class: 'muted small', 'aria-live': 'polite' });
  let dirty = false;
  const problems = h('span', { class: 'error small', 'data-testid': 'rules-problems', 'aria-live': 'polite' });
  const check = live('flags', ctx.flag.key,
    () => withOverride(ctx.flag.definition, ctx.env, 'rules', rules.map((r) => cleanRule(r))),
    (err, n) => { message.textContent = showProblems(list, err ?? ''); problems.textContent = count(n); });
  const changed = () => { dirty = true; status.textContent = 'unsaved changes'; check(); };
  const off = !ctx.canChange;

  // The button to keep the focus on after a move to `j` (not a disabled one).
  const moved = (j: number, by: number) => (j === 0 ? 'down' : j === rules.length - 1 ? 'up' : by < 0 ? 'up' : 'down');
  const move = async (i: number, by: number) => {
    const j = i + by;
    if (j < 0 || j >= rules.length) return;
    if (!dirty && rules.every((r) => r.id)) {
      const order = rules.map((r) => r.id!);
      [order[i], order[j]] = [order[j], order[i]];
      try {
        await api.reorder(ctx.flag.key, ctx.env, order, ctx.flag.revision);
        await ctx.reload();
        document.getElementById(`rule${j}-${moved(j, by)}`)?.focus();
      } catch (err) { message.textContent = showProblems(list, err); }
      return;
    }
    [rules[i], rules[j]] = [rules[j], rules[i]];
    changed();
    render();
    document.getElementById(`rule${j}-${moved(j, by)}`)?.focus();
  };

  function render(): void {
    mount(list, ...rules.map((r, i) => {
      const path = `${base}[${i}]`;
      const idp = `rule${i}`;
      const id = h('input', { id: `${idp}-id`, value: r.id ?? '', disabled: off });
      id.addEventListener('input', () => { r.id = id.value || undefined; changed(); });
      const up = h('button', { type: 'button', id: `${idp}-up`, 'aria-label': `Move rule ${i + 1} up`, disabled: off || i === 0 }, '↑');
      const down = h('button', { type: 'button', id: `${idp}-down`, 'aria-label': `Move rule ${i + 1} down`, disabled: off || i === rules.length - 1 }, '↓');
      const del = h('button', { type: 'button', 'aria-label': `Remove rule ${i + 1}`, disabled: off }, 'Remove rule');
      up.addEventListener('click', () => void move(i, -1));
      down.addEventListener('click', () => void move(i, 1));
      del.addEventListener('click', () => { rules.splice(i, 1); changed(); render(); add.focus(); });
      return h('fieldset', { class: 'rule', 'data-testid': `rule-${i}`, 'data-path': path },
        h('legend', {}, `Rule ${i + 1}`),
        h('div', { class: 'inline' },
          field(`${path}.id`, h('label', { for: `${idp}-id` }, 'Rule id'), id),
          h('div', { class: 'grow' }), up, down, del),
        h('p', { class: 'error field-error', role: 'alert' }),
        h('p', { class: 'muted small' }, 'If all of these match:'),
        clausesEditor(r.clauses, path, idp, ctx.segments, changed, render, off),
        serveEditor(r, path, idp, ctx.variations, changed, render, off));
    }), rules.length ? null : h('p', { class: 'muted' }, `No rules in ${ctx.env}: everyone gets the fallthrough.`));
  }
  render();

  const add = h('button', { type: 'button', disabled: off }, '+ Rule');
  add.addEventListener('click', () => {
    const ids = new Set(rules.map((r) => r.id));
    let n = rules.length + 1;
    while (ids.has(`rule-${n}`)) n++;
    rules.push({ id: `rule-${n}`, clauses: [{ attribute: '', op: 'in', values: [] }], serve: ctx.variations[0] });
    changed();
    render();
    document.getElementById(`rule${rules.length - 1}-c0-attr`)?.focus();
  });
  const save = h('button', { class: 'primary', 'data-testid': 'save-rules', disabled: off }, 'Save rules');
  save.addEventListener('click', async () => {
    message.textContent = '';
    const def = withOverride(ctx.flag.definition, ctx.env, 'rules', rules.map((r) => cleanRule(r)));
    try {
      await api.putFlag(ctx.flag.key, def, ctx.flag.revision);
      await ctx.reload();
    } catch (err) { message.textContent = showProblems(list, err); }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'rules-title' },
    h('h2', { id: 'rules-title' }, `Rules in ${ctx.env}`),
    h('p', { class: 'muted small' }, `The first rule whose clauses all match serves (${source(ctx, 'rules')}).`),
    field(base, list), message,
    h('div', { class: 'actions' }, problems, status, add, save));
}

export function prerequisitesCard(ctx: Ctx): HTMLElement {
  type Prereq = { flag: string; variations: string[] };
  const prereqs: Prereq[] = JSON.parse(JSON.stringify(ctx.fields.prerequisites ?? [])) as Prereq[];
  const base = `$.environments.${ctx.env}.prerequisites`;
  const list = h('div', {});
  const message = h('p', { class: 'error', role: 'alert' });
  const off = !ctx.canChange;
  const others = ctx.flags.filter((f) => f !== ctx.flag.key);
  function render(): void {
    mount(list, ...prereqs.map((p, i) => {
      const flag = h('select', { id: `pre${i}-flag`, disabled: off },
        ...[...new Set([p.flag, ...others])].map((f) => h('option', { value: f, selected: f === p.flag }, f)));
      flag.addEventListener('change', () => { p.flag = flag.value; });
      const vars = h('input', { id: `pre${i}-vars`, value: p.variations.join(', '), placeholder: 'on', disabled: off });
      vars.addEventListener('input', () => { p.variations = keysOf(vars.value); });
      const del = h('button', { type: 'button', 'aria-label': `Remove prerequisite ${i + 1}`, disabled: off }, 'Remove');
      del.addEventListener('click', () => { prereqs.splice(i, 1); render(); });
      return h('div', { class: 'inline prereq' },
        field(`${base}[${i}].flag`, h('label', { for: `pre${i}-flag` }, 'Flag'), flag),
        field(`${base}[${i}].variations`, h('label', { for: `pre${i}-vars` }, 'Serves one of'), vars),
        del);
    }), prereqs.length ? null : h('p', { class: 'muted small' }, 'None.'));
  }
  render();
  const add = h('button', { type: 'button', disabled: off || !others.length }, '+ Prerequisite');
  add.addEventListener('click', () => {
    prereqs.push({ flag: others[0], variations: ['on'] });
    render();
    document.getElementById(`pre${prereqs.length - 1}-flag`)?.focus();
  });
  const save = h('button', { class: 'primary', disabled: off }, 'Save prerequisites');
  save.addEventListener('click', async () => {
    message.textContent = '';
    try {
      await api.putFlag(ctx.flag.key, withOverride(ctx.flag.definition, ctx.env, 'prerequisites', prereqs), ctx.flag.revision);
      await ctx.reload();
    } catch (err) { message.textContent = showProblems(list, err); }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'prereq-title' },
    h('h2', { id: 'prereq-title' }, 'Prerequisites'),
    h('p', { class: 'muted small' }, `Flags that must serve one of the listed variations first (${source(ctx, 'prerequisites')}).`),
    list, message, h('div', { class: 'actions' }, add, save));
}

export function variationsCard(ctx: Ctx, canEdit: boolean): HTMLElement {
  const def = ctx.flag.definition;
  const given = def.variations && typeof def.variations === 'object' ? def.variations as Record<string, unknown> : { on: true, off: false };
  const rows = Object.entries(given).map(([name, v]) => ({ name, text: JSON.stringify(v) }));
  const list = h('div', {});
  const message = h('p', { class: 'error', role: 'alert' });
  const off = !canEdit;
  function render(): void {
    mount(list, ...rows.map((r, i) => {
      const name = h('input', { id: `var${i}-name`, value: r.name, disabled: off });
      name.addEventListener('input', () => { r.name = name.value; });
      const value = h('input', { id: `var${i}-value`, value: r.text, class: 'mono', disabled: off });
      value.addEventListener('input', () => { r.text = value.value; });
      const del = h('button', { type: 'button', 'aria-label': `Remove variation ${i + 1}`, disabled: off || rows.length < 2 }, 'Remove');
      del.addEventListener('click', () => { rows.splice(i, 1); render(); });
      return h('div', { class: 'inline prereq' },
        h('div', {}, h('label', { for: `var${i}-name` }, 'Name'), name),
        h('div', { class: 'grow' }, field(`$.variations.${r.name}`, h('label', { for: `var${i}-value` }, 'Value (JSON)'), value)),
        del);
    }));
  }
  render();
  const add = h('button', { type: 'button', disabled: off }, '+ Variation');
  add.addEventListener('click', () => {
    rows.push({ name: '', text: '' });
    render();
    document.getElementById(`var${rows.length - 1}-name`)?.focus();
  });
  const save = h('button', { class: 'primary', disabled: off }, 'Save variations');
  save.addEventListener('click', async () => {
    message.textContent = '';
    const variations: Record<string, unknown> = {};
    for (const r of rows) {
      try { variations[r.name] = JSON.parse(r.text); } catch {
        message.textContent = `The value of “${r.name}” is not JSON (strings need quotes: "v2").`;
        return;
      }
    }
    const copy = { ...def, variations };
    try {
      await api.putFlag(ctx.flag.key, copy, ctx.flag.revision);
      await ctx.reload();
    } catch (err) { message.textContent = showProblems(list, err); }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'variations-title' },
    h('h2', { id: 'variations-title' }, 'Variations'),
    h('p', { class: 'muted small' }, 'The values the flag can serve, in order (shared by all environments).'),
    list, message, h('div', { class: 'actions' }, add, save));
}
