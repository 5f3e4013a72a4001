// The console's one door to the API. Every path is relative to the page, so the console works at "/", under
// "/api/" and behind a proxy's prefix alike. The credential (an API key, or a login token) lives in
// sessionStorage and travels only in the Authorization header: never in a URL, never in a cookie.

const BASE = new URL(".", document.baseURI);
const STORAGE = "alertbus.credential";
export const events = new EventTarget();  // "unauthorized": the server refused the credential

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function credential() {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORAGE) || "null");
    return value && typeof value.value === "string" ? value : null;
  } catch {
    return null;
  }
}

export function setCredential(value) {
  if (value) sessionStorage.setItem(STORAGE, JSON.stringify(value));
  else sessionStorage.removeItem(STORAGE);
}

export function authHeaders() {
  const c = credential();
  if (!c) return {};
  return {Authorization: c.kind === "token" ? `Bearer ${c.value}` : `Key ${c.value}`};
}

export function url(path, params) {
  const u = new URL(path, BASE);
  for (const [name, value] of params || []) {
    if (value !== undefined && value !== null && value !== "") u.searchParams.append(name, value);
  }
  return u;
}

export function path(...segments) {
  return segments.map((s) => encodeURIComponent(String(s))).join("/");
}

export async function api(method, target, {params, body, signal, auth = true} = {}) {
  const headers = {Accept: "application/json", ...(auth ? authHeaders() : {})};
  const init = {method, headers, signal, credentials: "omit", cache: "no-store"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(target, params), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "the server cannot be reached", null);
  }
  const raw = await response.text();
  let data = null;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && typeof data.message === "string" && data.message) || `HTTP ${response.status}`;
    if (response.status === 401 && auth) events.dispatchEvent(new Event("unauthorized"));
    throw new ApiError(response.status, message, data);
  }
  return data;
}

export function describe(error) {
  if (error instanceof ApiError) return error.status ? `${error.status}: ${error.message}` : error.message;
  return String(error && error.message ? error.message : error);
}
