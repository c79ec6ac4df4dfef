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
