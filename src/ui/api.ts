import type { ClientPageView, ModelsView, OverviewView, VersionDiffView, ViewerView } from '../dashboard/views';

/** An API answer that was not 2xx, with the server's error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json ?? {}) as { error?: string; code?: string; message?: string };
    throw new ApiError(res.status, e.code ?? e.error ?? String(res.status), e.message ?? (text || res.statusText));
  }
  return json as T;
}

export const api = {
  session: () => call<({ loggedIn: true } & ViewerView) | { loggedIn: false }>('GET', '/v1/session'),
  login: (username: string, secret: string) => call<ViewerView & { expiresAt: string }>('POST', '/v1/session', { username, secret }),
  logout: () => call<unknown>('DELETE', '/v1/session'),
  overview: (signal?: AbortSignal) => call<OverviewView>('GET', '/v1/dashboard/overview', undefined, signal),
  client: (id: string, signal?: AbortSignal) => call<ClientPageView>('GET', `/v1/dashboard/clients/${encodeURIComponent(id)}`, undefined, signal),
  diff: (id: string, from: number, to: number, signal?: AbortSignal) => call<VersionDiffView>('GET', `/v1/dashboard/clients/${encodeURIComponent(id)}/diff?from=${from}&to=${to}`, undefined, signal),
  models: (signal?: AbortSignal) => call<ModelsView>('GET', '/v1/dashboard/models', undefined, signal),
  /** The in-guest agent's predicted-against-observed scores; undefined where the server has none (no agent, or an older server). */
  accuracy: async (id: string, signal?: AbortSignal): Promise<unknown> => {
    const res = await fetch(`/v1/clients/${encodeURIComponent(id)}/accuracy`, { credentials: 'same-origin', headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
    if (res.status === 404 || res.status === 405 || res.status === 501) return undefined;
    if (!res.ok) throw new ApiError(res.status, String(res.status), await res.text());
    return res.json();
  },
  rollback: (id: string, to: number) => call<{ to: string; version: number; from?: string }>('POST', `/v1/clients/${encodeURIComponent(id)}/rollback`, { to }),
  rebuild: (id: string) => call<{ source: string; image: { version?: number } }>('POST', '/v1/requests', { clientId: id }),
  cancelBuilds: (id: string) => call<{ cancelled: number }>('DELETE', `/v1/clients/${encodeURIComponent(id)}/builds`),
};
