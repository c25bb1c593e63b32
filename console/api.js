// The console's access to the broker: JSON over /api/v1/ with the bearer token the browser
// holds (localStorage), and the Server-Sent Events stream. EventSource cannot set headers, so
// the token travels as the access_token query parameter on /api/v1/events only.

const TOKEN_KEY = 'qpidd-console-token';

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? null;
  }
}

/** GET a route of /api/v1/ (path without the prefix), as JSON. */
export async function get(path) {
  const headers = { accept: 'application/json' };
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  const response = await fetch(`/api/v1/${path}`, { headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** Opens the event stream; `handlers` maps event names to callbacks. Reconnects on its own
 * (EventSource does), and reports open/closed through `onState`. */
export function openEvents(handlers, onState) {
  const t = token();
  const source = new EventSource(t ? `/api/v1/events?access_token=${encodeURIComponent(t)}` : '/api/v1/events');
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  }
  source.onopen = () => onState('live');
  source.onerror = () => onState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  return source;
}
