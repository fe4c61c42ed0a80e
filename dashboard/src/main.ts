// The dashboard: sign-in or first-admin setup, then hash-routed pages.
import './style.css';
import { api, ApiError, type Me } from './api';
import { h, mount } from './dom';
import { auditPage, flagPage, flagsPage } from './views';
import { environmentsPage, historyPage, segmentPage, segmentsPage } from './pages';

const app = document.getElementById('app')!;
let me: Me | null = null;

function signInPage(setupToken: string | null): void {
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', {
    id: 'password', name: 'password', type: 'password', required: true,
    autocomplete: setupToken ? 'new-password' : 'current-password', minlength: setupToken ? 10 : undefined,
  });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, h('span', { class: 'logo' }, '⚑'), ' edgeflag'),
    h('p', { class: 'muted' }, setupToken ? 'Make the first admin of this server.' : 'Sign in to manage flags.'),
    h('label', { for: 'username' }, 'User name'), user,
    h('label', { for: 'password' }, 'Password'), pass,
    error,
    h('button', { class: 'primary', type: 'submit' }, setupToken ? 'Create admin and sign in' : 'Sign in'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    try {
      me = setupToken
        ? await api.setup(setupToken, user.value, pass.value)
        : await api.signIn(user.value, pass.value);
      history.replaceState(null, '', '/#/flags');
      route();
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  });
  mount(app, h('main', { class: 'center' }, form));
  user.focus();
}

function shell(content: HTMLElement): HTMLElement {
  const here = location.hash;
  const link = (href: string, text: string) =>
    h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : undefined }, text);
  const signOut = h('button', { class: 'link' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    await api.signOut().catch(() => undefined);
    me = null;
    route();
  });
  return h(
    'div',
    { class: 'layout' },
    h(
      'nav',
      { 'aria-label': 'Main' },
      h('div', { class: 'brand' }, h('span', { class: 'logo' }, '⚑'), ' edgeflag'),
      link('#/flags', 'Flags'),
      link('#/segments', 'Segments'),
      link('#/environments', 'Environments'),
      link('#/history', 'History'),
      link('#/audit', 'Audit log'),
      h('div', { class: 'who' }, h('span', {}, `${me?.name} · ${me?.role}`), signOut),
    ),
    h('main', { id: 'content' }, content),
  );
}

async function route(): Promise<void> {
  const setup = new URLSearchParams(location.search).get('setup');
  if (!me) {
    try {
      me = await api.session();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return signInPage(setup);
      mount(app, h('p', { class: 'error' }, String(err)));
      return;
    }
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const content = h('div', {});
  mount(app, shell(content));
  if (parts[0] === 'flags' && parts[1]) await flagPage(content, me, parts[1], parts[2]);
  else if (parts[0] === 'audit') await auditPage(content);
  else if (parts[0] === 'history') await historyPage(content, me, parts[1]);
  else if (parts[0] === 'environments') await environmentsPage(content, me);
  else if (parts[0] === 'segments' && parts[1]) await segmentPage(content, me, parts[1]);
  else if (parts[0] === 'segments') await segmentsPage(content, me);
  else await flagsPage(content, me);
}

window.addEventListener('hashchange', () => void route());
void route();
