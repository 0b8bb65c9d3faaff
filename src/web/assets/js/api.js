// Talking to the suifang API: JSON fetch with the one error body, and the live event stream.
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status; this.code = code; this.field = field;
  }
}

export async function api(method, path, body) {
  let r;
  try {
    r = await fetch('/api/v1' + path, {
      method,
      credentials: 'same-origin',
      headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(r.status, err.code || 'http_' + r.status, err.message || r.statusText, err.field);
  }
  return data;
}

/** True when the error says the endpoint does not exist (yet) on this server. */
export const missingRoute = (e) => e instanceof ApiError && e.status === 404 && /route not found/.test(e.message);

/**
 * One EventSource per page; handlers by event name. EventSource reconnects by itself;
 * `resync` (the server dropped events for us) and reconnects call `onResync`.
 */
export function liveEvents(handlers, onResync) {
  const es = new EventSource('/api/v1/events', { withCredentials: true });
  let opened = false;
  es.addEventListener('hello', () => { if (opened && onResync) onResync(); opened = true; });
  es.addEventListener('resync', () => onResync && onResync());
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch { data = ev.data; }
      fn(data, name);
    });
  }
  return es;
}

let routes = null;
/**
 * Whether this server serves `METHOD /api/v1/...template` (from its OpenAPI document). Pages
 * check before calling endpoints that may not exist yet, so a missing feature shows a message
 * instead of a failed request.
 */
export async function hasRoute(method, template) {
  if (!routes) {
    routes = fetch('/api/v1/openapi.json').then((r) => r.json()).then((doc) => {
      const set = new Set();
      for (const [path, ops] of Object.entries(doc.paths || {})) for (const m of Object.keys(ops)) set.add(`${m.toUpperCase()} ${path}`);
      return set;
    }).catch(() => new Set());
  }
  return (await routes).has(`${method} /api/v1${template}`);
}

/** Throws the "endpoint missing" error unless the route exists. */
export async function requireRoute(method, template) {
  if (!(await hasRoute(method, template))) throw new ApiError(404, 'not_found', 'route not found');
}
