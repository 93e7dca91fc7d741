// A fetch wrapper for our JSON API: sends the CSRF token, parses {"error": {...}} into a thrown ApiError.
export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || { code: "network", message: `HTTP ${status}` };
    super(err.message);
    this.status = status;
    this.code = err.code;
    this.fields = err.fields || {};
  }
}

export function csrfToken() {
  const meta = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="csrf-token"]'));
  return meta ? meta.content : "";
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
