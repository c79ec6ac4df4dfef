/** Calls to Swan's /api/v1. Errors carry the server's message (shown inline by the pages). */

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export async function getJson<T = any>(path: string, params?: Record<string, any>, signal?: AbortSignal): Promise<T> {
  const url = new URL(path, window.location.origin);
  if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === "") continue;
      if (Array.isArray(v)) v.forEach((item) => url.searchParams.append(k, String(item)));
      else url.searchParams.set(k, String(v));
    }
  }
  const resp = await fetch(url.toString(), { signal, headers: { Accept: "application/json" } });
  if (resp.status === 401) unauthenticated();
  if (!resp.ok) {
    let code = "ERROR";
    let message = `${resp.status} ${resp.statusText}`;
    try {
      const body = await resp.json();
      code = body?.error?.code ?? body?.error_code ?? code;
      message = body?.error?.message ?? body?.message ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(resp.status, code, message);
  }
  return resp.json();
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

// -- authentication ------------------------------------------------------------------------------
// With `swan server --auth`, every /api/v1 call needs the session cookie that the login page gets
// from POST /api/v1/auth/login. A 401 anywhere shows the login page; state-changing calls repeat
// the session's CSRF token (cookie `swan_csrf`) in the X-CSRF-Token header.

type AuthListener = () => void;
const authListeners = new Set<AuthListener>();

export function onUnauthenticated(l: AuthListener): () => void {
  authListeners.add(l);
  return () => authListeners.delete(l);
}

function unauthenticated() {
  authListeners.forEach((l) => l());
}

export function csrfToken(): string {
  const m = document.cookie.match(/(?:^|;\s*)swan_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export async function postJson<T = any>(path: string, body: unknown): Promise<T> {
  const resp = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body ?? {}),
  });
  let data: any = null;
  try {
    data = await resp.json();
  } catch {
    /* not JSON */
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, data?.error?.code ?? "ERROR", data?.error?.message ?? `${resp.status} ${resp.statusText}`);
  }
  return data as T;
}

export interface Me { user: { name: string; role: string; display_name: string | null } | null; version: string }
