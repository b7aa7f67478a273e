// The REST API, with the bearer token the page keeps in localStorage.

export const API = "/api/v1";
const TOKEN_KEY = "actsearch.token";

/** `?token=...` (the URL `actsearch serve` prints) becomes the stored token, and leaves the
 * address bar and the history: a URL with a secret must not be bookmarked or shared. */
export function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token === null) return;
  if (token.trim()) setToken(token.trim());
  url.searchParams.delete("token");
  window.history.replaceState(null, "", url.pathname + url.search + (url.hash || "#/jobs"));
}

export function getToken() {
  return window.localStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  window.localStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  window.localStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `request failed (${status})`);
    this.status = status;
    this.detail = detail;
  }

  /** The 422 items: [{loc: ["body", "budget", "candidates"], msg, type}], else []. */
  get fields() {
    return Array.isArray(this.detail) ? this.detail : [];
  }
}

export function authHeaders(extra = {}) {
  const token = getToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

export function unauthorized() {
  // main.js shows the login form; the page that asked keeps its state
  window.dispatchEvent(new CustomEvent("actsearch:unauthorized"));
}

/** JSON (or text with {text: true}) from `API + path`; throws ApiError. */
export async function api(path, { method = "GET", body, query, text = false, signal } = {}) {
  const url = new URL(API + path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  const headers = authHeaders(body === undefined ? {} : { "Content-Type": "application/json" });
  const response = await fetch(url, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = response.statusText || `HTTP ${response.status}`;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // not JSON (a proxy's error page): keep the status text
    }
    if (response.status === 401) unauthorized();
    throw new ApiError(response.status, detail);
  }
  return text ? response.text() : response.json();
}

/** Whether `token` is accepted (it is not stored). */
export async function checkToken(token) {
  const response = await fetch(`${API}/jobs?limit=1`, { headers: { Authorization: `Bearer ${token}` } });
  return response.ok;
}

// Candidates never change their function, so their curves are fetched once per page load.
const curves = new Map();

export function curve(candidateId) {
  if (!curves.has(candidateId)) {
    const request = api(`/candidates/${candidateId}/curve`, { query: { points: 201 } });
    request.catch(() => curves.delete(candidateId));
    curves.set(candidateId, request);
  }
  return curves.get(candidateId);
}

/** A sentence about a failed request, for the page. */
export function describeError(error) {
  if (error instanceof ApiError) {
    if (error.fields.length) return error.fields.map((item) => `${item.loc.slice(1).join(".")}: ${item.msg}`).join("; ");
    if (error.status === 404) return "Not found (or not visible with this token).";
    return String(error.message);
  }
  return "The service cannot be reached; retrying.";
}

/** Whether `error` only says the page was left (its requests aborted). */
export function aborted(error, signal) {
  return signal.aborted || error?.name === "AbortError";
}
