// The admin API client: same-origin cookie session, CSRF token on changes,
// errors as ApiError with the server's message and located problems.

export interface Problem {
  kind: string;
  key: string;
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
  }
}

export interface Me {
  name: string;
  role: 'viewer' | 'editor' | 'admin';
  environments: string[] | null;
}

export interface Resource {
  key: string;
  definition: Record<string, unknown>;
  revision: number;
  updated_at: number;
}

export interface Environment {
  name: string;
  protected: boolean;
  revision: number;
  serving?: number;
  serving_client?: number;
}

export interface EnvState {
  key: string;
  environment: string;
  revision: number;
  fields: Record<string, unknown>;
  overridden: string[];
}

export interface AuditRecord {
  id: number;
  at: number;
  actor: string;
  action: string;
  kind: string;
  key: string;
  revision: number;
  comment?: string;
}

export interface Version {
  version: number;
  at: number;
  actor: string;
  action: string;
  changes: string[];
  revision?: number;
}

export interface History {
  environment: string;
  current?: number;
  versions: Version[];
}

export interface Published {
  environment: string;
  version: number;
  new: boolean;
}

export interface Changed {
  resource?: Resource;
  revision: number;
  published: Published[];
}

export interface FullRecord extends AuditRecord {
  before?: unknown;
  after?: unknown;
}

let csrf = '';

async function call<T>(method: string, path: string, body?: unknown, ifMatch?: number): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (ifMatch !== undefined) headers['If-Match'] = `"${ifMatch}"`;
  const resp = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  if (!resp.ok) {
    const v = value as { message?: string; problems?: Problem[] };
    let message = v?.message ?? String(text);
    const retry = resp.headers.get('Retry-After');
    if (retry) message += ` (retry in ${retry} s)`;
    throw new ApiError(resp.status, message, v?.problems ?? []);
  }
  return value as T;
}

interface SessionInfo {
  user: Me;
  csrf: string;
}

function remember(s: SessionInfo): Me {
  csrf = s.csrf;
  return s.user;
}

export const api = {
  session: async () => remember(await call<SessionInfo>('GET', '/session')),
  signIn: async (username: string, password: string) =>
    remember(await call<SessionInfo>('POST', '/session', { username, password })),
  setup: async (token: string, username: string, password: string) =>
    remember(await call<SessionInfo>('POST', '/setup', { token, username, password })),
  signOut: () => call<void>('DELETE', '/session'),
  environments: () => call<Environment[]>('GET', '/environments'),
  flags: (query: URLSearchParams) =>
    call<{ items: Resource[]; next?: string }>('GET', `/flags?${query}`),
  flag: (key: string) => call<Resource>('GET', `/flags/${encodeURIComponent(key)}`),
  createFlag: (key: string, definition: Record<string, unknown>) =>
    call<unknown>('POST', '/flags', { key, definition }),
  putFlag: (key: string, definition: unknown, revision: number) =>
    call<unknown>('PUT', `/flags/${encodeURIComponent(key)}`, { definition }, revision),
  state: (key: string, env: string) =>
    call<EnvState>('GET', `/flags/${encodeURIComponent(key)}/environments/${env}`),
  toggle: (key: string, env: string, enabled: boolean) =>
    call<unknown>('POST', `/flags/${encodeURIComponent(key)}/environments/${env}/toggle`, { enabled }),
  rollout: (key: string, env: string, weights: Record<string, number>) =>
    call<unknown>('POST', `/flags/${encodeURIComponent(key)}/environments/${env}/rollout`, { weights }),
  audit: (query: URLSearchParams) => call<FullRecord[]>('GET', `/audit?${query}`),
  history: (env: string) => call<History>('GET', `/environments/${encodeURIComponent(env)}/history`),
  rollback: (revision: number, comment?: string) => call<Changed>('POST', '/rollback', { revision, comment }),
  targets: (key: string, env: string, variation: string, add: string[], remove: string[]) =>
    call<Changed>('POST', `/flags/${encodeURIComponent(key)}/environments/${env}/targets`, { variation, add, remove }),
  reorder: (key: string, env: string, order: string[], revision: number) =>
    call<Changed>('POST', `/flags/${encodeURIComponent(key)}/environments/${env}/rules/order`, { order }, revision),
  segments: () => call<{ items: Resource[]; next?: string }>('GET', '/segments?limit=1000'),
  segment: (key: string) => call<Resource>('GET', `/segments/${encodeURIComponent(key)}`),
  createSegment: (key: string, definition: Record<string, unknown>) =>
    call<Changed>('POST', '/segments', { key, definition }),
  putSegment: (key: string, definition: unknown, revision: number) =>
    call<Changed>('PUT', `/segments/${encodeURIComponent(key)}`, { definition }, revision),
  protect: (env: string, protect: boolean, revision: number) =>
    call<Changed>('PUT', `/environments/${encodeURIComponent(env)}`, { protected: protect }, revision),
};
