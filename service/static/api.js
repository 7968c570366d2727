// The public API over fetch: JSON errors become ApiError (status, code, message, Retry-After seconds); with
// auth on, every request carries the key from localStorage, and media is fetched with it into blob URLs.
import { askForKey } from "./auth.js";
import { state } from "./state.js";

export const KEY_STORAGE = "videogen.apiKey";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

function retryAfterSeconds(header) {
  if (!header) return 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const when = Date.parse(header);
  return Number.isNaN(when) ? 0 : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

export async function api(path, { method = "GET", body = null, raw = false } = {}) {
  const headers = { Accept: raw ? "*/*" : "application/json" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { method, body, headers });
  } catch (err) {
    throw new ApiError(0, "network_error", `the server did not answer (${err.message})`, 3);
  }
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = response.statusText || "request failed";
    try {
      const data = await response.json();
      if (data && data.error) ({ code, message } = data.error);
    } catch {
      // not our JSON error body (a proxy's page): keep the status line
    }
    const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
    const error = new ApiError(response.status, code, message, retryAfter);
    if (response.status === 401) askForKey(key ? message : "");
    throw error;
  }
  return raw ? response : response.json();
}

/** A URL the browser loads for a content path: the path itself, or (auth on) a blob fetched with the key. */
export async function mediaUrl(path) {
  if (!state.options || !state.options.auth_required) return path;
  if (!state.blobUrls.has(path)) {
    const response = await api(path, { raw: true });
    state.blobUrls.set(path, URL.createObjectURL(await response.blob()));
  }
  return state.blobUrls.get(path);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
