// The pages: flag list, flag page per environment, audit log.
import { api, ApiError, type Environment, type Me, type Resource } from './api';
import { confirmDialog, h, mount, when } from './dom';
import { count, live } from './live';
import { prerequisitesCard, rulesCard, targetsCard, variationsCard, type Ctx } from './targeting';

const PAGE = 50;

function variationsOf(def: Record<string, unknown>): string[] {
  const v = def.variations;
  return v && typeof v === 'object' ? Object.keys(v as object) : ['on', 'off'];
}

function enabledIn(def: Record<string, unknown>, env: string): boolean {
  const over = (def.environments as Record<string, Record<string, unknown>> | undefined)?.[env];
  const e = over && 'enabled' in over ? over.enabled : def.enabled;
  return e !== false;
}

function errorText(err: unknown): string {
  if (err instanceof ApiError && err.problems.length) {
    return err.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  }
  return err instanceof Error ? err.message : String(err);
}

export async function flagsPage(root: HTMLElement, me: Me): Promise<void> {
  const envs = await api.environments();
  const q = h('input', { id: 'search', type: 'search', placeholder: 'key, description, owner…' });
  const tag = h('input', { id: 'tag', placeholder: 'any' });
  const temporary = h(
    'select', { id: 'temporary' },
    h('option', { value: '' }, 'all'), h('option', { value: 'true' }, 'temporary'), h('option', { value: 'false' }, 'permanent'),
  );
  const owner = h('input', { id: 'owner', placeholder: 'any' });
  const expiry = h(
    'select', { id: 'expired' },
    h('option', { value: '' }, 'any'), h('option', { value: 'true' }, 'expired'), h('option', { value: 'false' }, 'not expired'),
  );
  const killed = h(
    'select', { id: 'off-in' },
    h('option', { value: '' }, 'any'), ...envs.map((e) => h('option', { value: e.name }, `off in ${e.name}`)),
  );
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button' }, 'Next page');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  let after: string | undefined;

  async function load(reset: boolean): Promise<void> {
    if (reset) { after = undefined; tbody.replaceChildren(); }
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (q.value) query.set('q', q.value);
    if (tag.value) query.set('tag', tag.value);
    if (temporary.value) query.set('temporary', temporary.value);
    if (owner.value) query.set('owner', owner.value);
    if (expiry.value) query.set('expired', expiry.value);
    if (killed.value) query.set('off_in', killed.value);
    if (after) query.set('after', after);
    const page = await api.flags(query);
    after = page.next;
    for (const flag of page.items) tbody.append(row(flag, envs));
    more.hidden = !after;
    status.textContent = tbody.children.length ? `${tbody.children.length} flag${tbody.children.length === 1 ? '' : 's'} shown` : 'No flags match.';
  }
  let timer = 0;
  for (const input of [q, tag, owner]) {
    input.addEventListener('input', () => { clearTimeout(timer); timer = window.setTimeout(() => void load(true), 200); });
  }
  for (const select of [temporary, expiry, killed]) select.addEventListener('change', () => void load(true));
  more.addEventListener('click', () => void load(false));

  const key = h('input', { id: 'new-key', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._-]*', placeholder: 'new-checkout' });
  const description = h('input', { id: 'new-description', placeholder: 'What it releases' });
  const createError = h('p', { class: 'error', role: 'alert' });
  const create = h(
    'form', { class: 'card inline', 'aria-label': 'Create a flag' },
    h('div', {}, h('label', { for: 'new-key' }, 'New flag key'), key),
    h('div', { class: 'grow' }, h('label', { for: 'new-description' }, 'Description'), description),
    h('button', { class: 'primary', type: 'submit', disabled: me.role === 'viewer' }, 'Create flag'),
    createError,
  );
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    createError.textContent = '';
    try {
      const definition: Record<string, unknown> = description.value ? { description: description.value } : {};
      await api.createFlag(key.value, definition);
      location.hash = `#/flags/${encodeURIComponent(key.value)}/${envs[envs.length - 1]?.name ?? ''}`;
    } catch (err) {
      createError.textContent = errorText(err);
    }
  });

  mount(
    root,
    h('header', { class: 'page' }, h('h1', {}, 'Flags'), servingBadges(envs)),
    create,
    h('div', { class: 'filters card' },
      h('div', { class: 'grow' }, h('label', { for: 'search' }, 'Search'), q),
      h('div', {}, h('label', { for: 'tag' }, 'Tag'), tag),
      h('div', {}, h('label', { for: 'owner' }, 'Owner'), owner),
      h('div', {}, h('label', { for: 'temporary' }, 'Lifetime'), temporary),
      h('div', {}, h('label', { for: 'expired' }, 'Expiry'), expiry),
      h('div', {}, h('label', { for: 'off-in' }, 'Kill switch'), killed)),
    h('table', { class: 'flags' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Flag'), h('th', {}, 'Owner'), h('th', {}, 'Tags'),
        ...envs.map((e) => h('th', {}, e.name)))),
      tbody),
    status, more,
  );
  await load(true);
}

function servingBadges(envs: Environment[]): HTMLElement {
  return h('div', { class: 'badges' }, ...envs.map((e) =>
    h('span', { class: 'badge', 'data-testid': `serving-${e.name}` },
      `${e.name}${e.protected ? ' 🔒' : ''} · v${e.serving ?? '–'}`)));
}

function row(flag: Resource, envs: Environment[]): HTMLElement {
  const d = flag.definition;
  const tags = Array.isArray(d.tags) ? (d.tags as string[]) : [];
  return h('tr', { 'data-testid': `flag-${flag.key}` },
    h('td', {}, h('a', { href: `#/flags/${encodeURIComponent(flag.key)}/${envs[0]?.name ?? ''}` }, flag.key),
      d.description ? h('div', { class: 'muted small' }, String(d.description)) : null),
    h('td', {}, String(d.owner ?? '')),
    h('td', {}, ...tags.map((t) => h('span', { class: 'tag' }, t))),
    ...envs.map((e) => {
      const on = enabledIn(d, e.name);
      return h('td', {}, h('span', { class: on ? 'state on' : 'state off' }, on ? 'on' : 'off'));
    }));
}

export async function flagPage(root: HTMLElement, me: Me, key: string, envName?: string): Promise<void> {
  const [envs, flag, segs, all] = await Promise.all([api.environments(), api.flag(key), api.segments(),
    api.flags(new URLSearchParams({ limit: '1000' }))]);
  const env = envs.find((e) => e.name === envName) ?? envs[0];
  const state = await api.state(key, env.name);
  const fields = state.fields;
  const enabled = fields.enabled !== false;
  const variations = variationsOf(flag.definition);
  const message = h('p', { class: 'error', role: 'alert', 'data-testid': 'message' });
  const canChange = me.role === 'admin' || (me.role === 'editor' && !env.protected &&
    (!me.environments || me.environments.includes(env.name)));
  const ctx: Ctx = {
    flag, env: env.name, fields, overridden: state.overridden, variations, canChange,
    segments: segs.items.map((s) => s.key), flags: all.items.map((f) => f.key),
    reload: async () => {
      const focused = document.activeElement?.id;
      await flagPage(root, me, key, env.name);
      if (focused) document.getElementById(focused)?.focus();
    },
  };

  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Environment' }, ...envs.map((e) =>
    h('a', { role: 'tab', href: `#/flags/${encodeURIComponent(key)}/${e.name}`, 'aria-selected': e.name === env.name ? 'true' : 'false' },
      `${e.name} · v${e.serving ?? '–'}`)));

  const toggle = h('button', {
    class: enabled ? 'danger big' : 'primary big', 'data-testid': 'kill-switch', disabled: !canChange,
  }, enabled ? `Turn off in ${env.name}` : `Turn on in ${env.name}`);
  toggle.addEventListener('click', async () => {
    const ok = await confirmDialog(
      enabled ? `Turn ${key} off in ${env.name}?` : `Turn ${key} on in ${env.name}?`,
      enabled ? `Everyone in ${env.name} gets the off variation within a second.`
        : `${env.name} serves the flag's rules again.`,
      enabled ? 'Turn off' : 'Turn on', enabled);
    if (!ok) return;
    try {
      await api.toggle(key, env.name, !enabled);
      await flagPage(root, me, key, env.name);
    } catch (err) { message.textContent = errorText(err); }
  });

  // Rollout: one exact number per variation, and a slider for the first.
  const ft = fields.fallthrough;
  const current: Record<string, number> = {};
  if (ft && typeof ft === 'object' && 'rollout' in (ft as object)) {
    for (const [k, v] of Object.entries((ft as { rollout: Record<string, unknown> }).rollout)) {
      if (typeof v === 'number') current[k] = v;
    }
  } else {
    const serve = typeof ft === 'string' ? ft : (variations.includes('on') ? 'on' : variations[0]);
    for (const v of variations) current[v] = v === serve ? 100 : 0;
  }
  const inputs = variations.map((v) => h('input', {
    id: `weight-${v}`, type: 'number', min: 0, max: 100, step: 0.001, value: current[v] ?? 0,
    'data-testid': `weight-${v}`, disabled: !canChange,
  }));
  const slider = h('input', {
    id: 'rollout-slider', type: 'range', min: 0, max: 100, step: 1, value: current[variations[0]] ?? 0,
    disabled: !canChange,
  });
  const total = h('span', { class: 'muted' });
  const sum = () => inputs.reduce((s, i) => s + (Number(i.value) || 0), 0);
  const showTotal = () => { total.textContent = `total ${Math.round(sum() * 1000) / 1000} %`; };
  slider.addEventListener('input', () => {
    inputs[0].value = slider.value;
    if (inputs.length === 2) inputs[1].value = String(Math.round((100 - Number(slider.value)) * 1000) / 1000);
    showTotal();
  });
  for (const i of inputs) i.addEventListener('input', () => { slider.value = inputs[0].value; showTotal(); });
  showTotal();
  const save = h('button', { class: 'primary', 'data-testid': 'save-rollout', disabled: !canChange }, 'Save rollout');
  save.addEventListener('click', async () => {
    message.textContent = '';
    if (Math.abs(sum() - 100) > 1e-9) { message.textContent = `The weights add up to ${sum()} %, not 100 %.`; return; }
    const weights: Record<string, number> = {};
    variations.forEach((v, n) => { weights[v] = Number(inputs[n].value); });
    try {
      await api.rollout(key, env.name, weights);
      await flagPage(root, me, key, env.name);
    } catch (err) { message.textContent = errorText(err); }
  });

  // The whole definition, for everything the small moves do not cover.
  const editor = h('textarea', { id: 'definition', rows: 14, spellcheck: 'false', disabled: me.role === 'viewer' },
    JSON.stringify(flag.definition, null, 2));
  const saveDef = h('button', { disabled: me.role === 'viewer' }, 'Save definition');
  const defProblems = h('span', { class: 'error small', 'data-testid': 'definition-problems', 'aria-live': 'polite' });
  const checkDef = live('flags', key, () => JSON.parse(editor.value) as unknown,
    (err, n) => { message.textContent = err ? errorText(err) : ''; defProblems.textContent = count(n); });
  editor.addEventListener('input', () => {
    try { JSON.parse(editor.value); } catch { defProblems.textContent = 'not JSON'; return; }
    checkDef();
  });
  saveDef.addEventListener('click', async () => {
    message.textContent = '';
    let parsed: unknown;
    try { parsed = JSON.parse(editor.value); } catch (err) { message.textContent = `Not JSON: ${err}`; return; }
    try {
      await api.putFlag(key, parsed, flag.revision);
      await flagPage(root, me, key, env.name);
    } catch (err) { message.textContent = errorText(err); }
  });

  mount(
    root,
    h('header', { class: 'page' },
      h('div', {}, h('a', { href: '#/flags', class: 'muted small' }, '← Flags'), h('h1', {}, key),
        flag.definition.description ? h('p', { class: 'muted' }, String(flag.definition.description)) : null)),
    tabs,
    h('section', { class: 'card env-state' },
      h('div', {},
        h('h2', {}, 'State in ', env.name),
        h('p', {}, h('span', { class: enabled ? 'state on' : 'state off', 'data-testid': 'state' }, enabled ? 'on' : 'off'),
          ' · serving version ', h('strong', { 'data-testid': 'serving' }, `v${env.serving ?? '–'}`),
          env.protected ? ' · protected (admins only)' : '', ' · ', h('a', { href: `#/history/${env.name}` }, `history of ${env.name}`)),
        state.overridden.length ? h('p', { class: 'muted small' }, `overridden here: ${state.overridden.join(', ')}`) : null),
      toggle),
    h('section', { class: 'card' },
      h('h2', {}, 'Rollout'),
      h('label', { for: 'rollout-slider' }, `Percent served “${variations[0]}”`), slider,
      h('div', { class: 'weights' }, ...variations.map((v, n) =>
        h('div', {}, h('label', { for: `weight-${v}` }, `${v} %`), inputs[n]))),
      h('div', { class: 'actions' }, total, save)),
    message,
    targetsCard(ctx),
    rulesCard(ctx),
    prerequisitesCard(ctx),
    variationsCard(ctx, me.role !== 'viewer'),
    h('section', { class: 'card' },
      h('h2', {}, 'Definition'),
      h('label', { for: 'definition' }, 'The flag in the rule language’s JSON form (all environments)'), editor,
      h('div', { class: 'actions' }, defProblems, saveDef)),
  );
}

export async function auditPage(root: HTMLElement): Promise<void> {
  const key = h('input', { id: 'audit-key', placeholder: 'flag key' });
  const actor = h('input', { id: 'audit-actor', placeholder: 'user:ana' });
  const tbody = h('tbody', {});
  async function load(): Promise<void> {
    const query = new URLSearchParams({ limit: '100' });
    if (key.value) query.set('key', key.value);
    if (actor.value) query.set('actor', actor.value);
    const records = await api.audit(query);
    mount(tbody, records.map((r) => h('tr', {},
      h('td', {}, when(r.at)), h('td', {}, r.actor), h('td', {}, r.action), h('td', {}, `${r.kind} ${r.key}`),
      h('td', {}, String(r.revision)), h('td', {}, r.comment ?? ''))));
  }
  for (const i of [key, actor]) i.addEventListener('change', () => void load());
  mount(root,
    h('header', { class: 'page' }, h('h1', {}, 'Audit log')),
    h('div', { class: 'filters card' },
      h('div', {}, h('label', { for: 'audit-key' }, 'Key'), key),
      h('div', {}, h('label', { for: 'audit-actor' }, 'Actor'), actor)),
    h('table', {}, h('thead', {}, h('tr', {}, ...['When', 'Who', 'What', 'Resource', 'Revision', 'Comment'].map((t) => h('th', {}, t)))), tbody));
  await load();
}
