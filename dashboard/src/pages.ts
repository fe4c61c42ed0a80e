// The history page per environment (diff, rollback), the environments page
// and the segments pages.
import { api, type Environment, type FullRecord, type Me, type Version } from './api';
import { confirmDialog, h, mount, when } from './dom';
import { count, live } from './live';
import { clausesEditor, cleanRule, field, rulesOf, showProblems, type Rule } from './rules';

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A line diff (longest common subsequence) of two texts. */
export function diffLines(a: string[], b: string[]): [' ' | '-' | '+', string][] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: [' ' | '-' | '+', string][] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { out.push([' ', a[i]]); i++; j++; }
    else if (j < m && (i === n || lcs[i][j + 1] > lcs[i + 1][j])) out.push(['+', b[j++]]);
    else out.push(['-', a[i++]]);
  }
  return out;
}

const lines = (v: unknown) => (v === undefined ? [] : JSON.stringify(v, null, 2).split('\n'));

/** What changed in the project between revisions `from` (exclusive) and `to`. */
function diffView(records: FullRecord[], from: number, to: number): HTMLElement {
  const changes = new Map<string, { before: unknown; after: unknown }>();
  // Records come newest first: the last seen is the earliest `before`.
  for (const r of records) {
    if (r.revision <= from || r.revision > to || !['flag', 'segment', 'environment', 'settings'].includes(r.kind)) continue;
    const name = `${r.kind} ${r.key}`;
    const c = changes.get(name);
    if (c) c.before = r.before;
    else changes.set(name, { before: r.before, after: r.after });
  }
  const partial = records.length >= 1000 && records[records.length - 1].revision > from + 1
    ? h('p', { class: 'muted small' }, 'Only the last 1000 audit records were read: older changes may be missing; the audit log has them all.') : null;
  if (!changes.size) return h('div', {}, h('p', { class: 'muted small' }, 'No recorded changes between these revisions.'), partial);
  return h('div', { class: 'diffs' }, partial, ...[...changes].map(([name, c]) =>
    h('div', {},
      h('h3', {}, name, c.before === undefined ? ' (created)' : c.after === undefined ? ' (deleted)' : ''),
      h('pre', { class: 'diff' }, ...diffLines(lines(c.before), lines(c.after)).map(([k, t]) =>
        h('span', { class: k === '+' ? 'add' : k === '-' ? 'del' : undefined }, `${k} ${t}`))))));
}

export async function historyPage(root: HTMLElement, me: Me, envName?: string): Promise<void> {
  const envs = await api.environments();
  const env = envs.find((e) => e.name === envName) ?? envs[0];
  const message = h('p', { role: 'status', 'data-testid': 'history-message' });
  const error = h('p', { class: 'error', role: 'alert' });
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Environment' }, ...envs.map((e) =>
    h('a', { role: 'tab', href: `#/history/${e.name}`, 'aria-selected': e.name === env.name ? 'true' : 'false' }, e.name)));
  const tbody = h('tbody', {});
  mount(root, h('header', { class: 'page' }, h('div', {}, h('h1', {}, 'History'),
    h('p', { class: 'muted' }, 'The versions an environment published, what changed in each, and one-click rollback.'))),
  tabs, message, error, h('table', {}, h('thead', {}, h('tr', {},
    ...['Version', 'When', 'Who', 'What', 'Revision', ''].map((t) => h('th', {}, t)))), tbody));

  async function load(): Promise<void> {
    let versions: Version[] = [];
    let current: number | undefined;
    try {
      const hist = await api.history(env.name);
      versions = hist.versions;
      current = hist.current;
    } catch (err) { error.textContent = errorText(err); return; }
    const records = await api.audit(new URLSearchParams({ limit: '1000' }));
    mount(tbody, versions.flatMap((v, n) => {
      const older = versions.slice(n + 1).find((o) => o.revision !== undefined);
      const detail = h('tr', { hidden: true, id: `diff-${v.version}` }, h('td', { colspan: 6 }));
      const show = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': `diff-${v.version}` }, 'Diff');
      show.addEventListener('click', () => {
        const open = detail.hidden;
        detail.hidden = !open;
        show.setAttribute('aria-expanded', String(open));
        if (open) {
          mount(detail.firstElementChild!, v.revision === undefined
            ? h('p', { class: 'muted small' }, 'This version has no project revision (published before this server).')
            : h('div', {}, h('p', { class: 'muted small' }, older ? `Project revision ${older.revision} → ${v.revision} (v${older.version} → v${v.version})`
              : `Up to project revision ${v.revision}`), diffView(records, older?.revision ?? -1, v.revision)));
        }
      });
      const back = h('button', {
        type: 'button', 'data-testid': `rollback-${v.version}`,
        disabled: me.role === 'viewer' || v.revision === undefined || v.version === current,
      }, 'Roll back to this');
      back.addEventListener('click', async () => {
        const ok = await confirmDialog(`Roll back to v${v.version}?`,
          `Every flag, segment and environment returns to project revision ${v.revision} (what ${env.name} served at v${v.version}). Each environment whose rules change publishes a new version.`,
          'Roll back', true);
        if (!ok) return;
        error.textContent = '';
        try {
          const done = await api.rollback(v.revision!, `rollback of ${env.name} to v${v.version} from the dashboard`);
          const now = done.published.find((p) => p.environment === env.name);
          await load();
          message.textContent = now ? `Rolled back: ${env.name} now serves v${now.version}.` : 'Rolled back.';
        } catch (err) { error.textContent = errorText(err); }
      });
      return [h('tr', { 'data-testid': `version-${v.version}` },
        h('td', {}, h('strong', {}, `v${v.version}`), v.version === current ? h('span', { class: 'state on' }, ' serving') : null),
        h('td', {}, when(v.at)), h('td', {}, v.actor),
        h('td', {}, h('div', {}, v.action), ...v.changes.map((c) => h('div', { class: 'muted small' }, c))),
        h('td', {}, v.revision === undefined ? '–' : String(v.revision)),
        h('td', {}, h('div', { class: 'row-actions' }, show, back))), detail];
    }));
  }
  await load();
}

export async function environmentsPage(root: HTMLElement, me: Me): Promise<void> {
  const envs = await api.environments();
  const error = h('p', { class: 'error', role: 'alert' });
  const row = (e: Environment) => {
    const box = h('input', { id: `protect-${e.name}`, type: 'checkbox', checked: e.protected, disabled: me.role !== 'admin' });
    box.addEventListener('change', async () => {
      error.textContent = '';
      try {
        await api.protect(e.name, box.checked, e.revision);
        await environmentsPage(root, me);
        document.getElementById(`protect-${e.name}`)?.focus();
      } catch (err) { box.checked = !box.checked; error.textContent = errorText(err); }
    });
    return h('tr', { 'data-testid': `env-${e.name}` },
      h('td', {}, h('strong', {}, e.name)),
      h('td', {}, h('span', { class: 'check' }, box, h('label', { for: `protect-${e.name}` }, `Protect ${e.name}`))),
      h('td', { 'data-testid': 'env-serving' }, e.serving === undefined ? '–' : `v${e.serving}`),
      h('td', {}, e.serving_client === undefined ? '–' : `v${e.serving_client}`),
      h('td', {}, h('a', { href: `#/history/${e.name}` }, 'History')));
  };
  mount(root, h('header', { class: 'page' }, h('div', {}, h('h1', {}, 'Environments'),
    h('p', { class: 'muted' }, 'A protected environment is changed by admins only.'))),
  error,
  h('table', {}, h('thead', {}, h('tr', {}, ...['Environment', 'Protected', 'Serving', 'Client ruleset', ''].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...envs.map(row))));
}

export async function segmentsPage(root: HTMLElement, me: Me): Promise<void> {
  const segs = (await api.segments()).items;
  const key = h('input', { id: 'new-segment', required: true, placeholder: 'beta-testers', disabled: me.role === 'viewer' });
  const desc = h('input', { id: 'new-segment-description', disabled: me.role === 'viewer' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card inline' },
    h('div', {}, h('label', { for: 'new-segment' }, 'New segment key'), key),
    h('div', { class: 'grow' }, h('label', { for: 'new-segment-description' }, 'Description'), desc),
    h('button', { class: 'primary', type: 'submit', disabled: me.role === 'viewer' }, 'Create segment'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    try {
      await api.createSegment(key.value.trim(), desc.value ? { description: desc.value } : {});
      location.hash = `#/segments/${encodeURIComponent(key.value.trim())}`;
    } catch (err) { error.textContent = showProblems(form, err); }
  });
  const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  mount(root, h('header', { class: 'page' }, h('h1', {}, 'Segments')), form, error,
    h('table', {}, h('thead', {}, h('tr', {}, ...['Segment', 'Included', 'Excluded', 'Rules'].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...segs.map((s) => h('tr', { 'data-testid': `segment-${s.key}` },
        h('td', {}, h('a', { href: `#/segments/${encodeURIComponent(s.key)}` }, s.key),
          s.definition.description ? h('div', { class: 'muted small' }, String(s.definition.description)) : null),
        h('td', {}, String(count(s.definition.include))), h('td', {}, String(count(s.definition.exclude))),
        h('td', {}, String(count(s.definition.rules))))),
      segs.length ? null : h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No segments yet.')))));
}

export async function segmentPage(root: HTMLElement, me: Me, key: string): Promise<void> {
  const [seg, all] = await Promise.all([api.segment(key), api.segments()]);
  const d = seg.definition;
  const off = me.role === 'viewer';
  const keys = (v: unknown) => (Array.isArray(v) ? v.map(String).join('\n') : '');
  const desc = h('input', { id: 'segment-description', value: String(d.description ?? ''), disabled: off });
  const include = h('textarea', { id: 'segment-include', rows: 4, disabled: off }, keys(d.include));
  const exclude = h('textarea', { id: 'segment-exclude', rows: 4, disabled: off }, keys(d.exclude));
  const rules: Rule[] = rulesOf(d.rules);
  const others = all.items.map((s) => s.key).filter((k) => k !== key);
  const list = h('div', {});
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'segment-message' });
  const split = (t: string) => t.split(/[\s,]+/).filter((k) => k !== '');
  const definition = () => {
    const def: Record<string, unknown> = {};
    if (desc.value) def.description = desc.value;
    if (split(include.value).length) def.include = split(include.value);
    if (split(exclude.value).length) def.exclude = split(exclude.value);
    if (rules.length) def.rules = rules.map((r) => cleanRule(r, false));
    return def;
  };
  const problems = h('span', { class: 'error small', 'data-testid': 'segment-problems', 'aria-live': 'polite' });
  const form = h('div', {});
  const check = live('segments', key, definition,
    (err, n) => { error.textContent = showProblems(form, err ?? ''); problems.textContent = count(n); });
  for (const input of [desc, include, exclude]) input.addEventListener('input', check);
  function render(): void {
    mount(list, ...rules.map((r, i) => {
      const del = h('button', { type: 'button', 'aria-label': `Remove rule ${i + 1}`, disabled: off }, 'Remove rule');
      del.addEventListener('click', () => { rules.splice(i, 1); render(); add.focus(); });
      return h('fieldset', { class: 'rule', 'data-path': `$.rules[${i}]` },
        h('legend', {}, `Rule ${i + 1}`),
        h('div', { class: 'actions' }, del),
        h('p', { class: 'error field-error', role: 'alert' }),
        h('p', { class: 'muted small' }, 'In the segment if all of these match:'),
        clausesEditor(r.clauses, `$.rules[${i}]`, `srule${i}`, others, check, render, off));
    }), rules.length ? null : h('p', { class: 'muted small' }, 'No rules: only the included keys are in.'));
  }
  render();
  const add = h('button', { type: 'button', disabled: off }, '+ Rule');
  add.addEventListener('click', () => {
    rules.push({ clauses: [{ attribute: '', op: 'in', values: [] }] });
    render();
    document.getElementById(`srule${rules.length - 1}-c0-attr`)?.focus();
  });
  const save = h('button', { class: 'primary', 'data-testid': 'save-segment', disabled: off }, 'Save segment');
  save.addEventListener('click', async () => {
    error.textContent = '';
    const def = definition();
    try {
      const done = await api.putSegment(key, def, seg.revision);
      await segmentPage(root, me, key);
      document.getElementById('segment-status')?.replaceChildren(`Saved (revision ${done.resource?.revision ?? done.revision}).`);
    } catch (err) { error.textContent = showProblems(form, err); }
  });
  mount(form,
    h('section', { class: 'card' },
      field('$.description', h('label', { for: 'segment-description' }, 'Description'), desc),
      h('div', { class: 'inline' },
        h('div', { class: 'grow' }, field('$.include', h('label', { for: 'segment-include' }, 'Included keys (always in; one per line)'), include)),
        h('div', { class: 'grow' }, field('$.exclude', h('label', { for: 'segment-exclude' }, 'Excluded keys (out unless included)'), exclude)))),
    h('section', { class: 'card' }, h('h2', {}, 'Rules'),
      h('p', { class: 'muted small' }, 'A context is in when all clauses of any rule match.'),
      field('$.rules', list), h('div', { class: 'actions' }, add)));
  mount(root,
    h('header', { class: 'page' }, h('div', {}, h('a', { href: '#/segments', class: 'muted small' }, '← Segments'),
      h('h1', {}, key))),
    form, error, h('div', { class: 'actions' }, problems, h('span', { id: 'segment-status', role: 'status', class: 'muted small' }), save));
}
