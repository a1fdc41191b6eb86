// The platform's JSON API as the console calls it: same-origin, with the session cookie.

export class ApiError extends Error {}

// The message a failed response's body gives (the platform's errors carry one), or its status.
export async function failureOf(response) {
  const body = await response.json().catch(() => ({}));
  return new ApiError(body.error?.message || `${response.status} ${response.statusText}`.trim());
}

// The JSON answer of `path`; `options.json` is sent as the body. Rejects with an ApiError.
export async function api(path, options = {}) {
  const { json, ...rest } = options;
  const init = { credentials: "same-origin", ...rest, headers: { ...(rest.headers || {}) } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failureOf(response);
  if (response.status === 204) return null;
  return response.json();
}

export function jsonPost(body) {
  return { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}
