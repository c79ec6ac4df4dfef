import { useEffect, useState } from "preact/hooks";
import { ApiError, postJson } from "../api";

/** The login page (shown whenever the server answers 401): an API key in, a session cookie out. */
export function Login({ onDone }: { onDone: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = "Log in · Swan";
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await postJson("/api/v1/auth/login", { api_key: key.trim() });
      setKey("");
      // back to the page a link led to (only a path on this server)
      const next = new URLSearchParams(window.location.search).get("next");
      if (next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\")) {
        window.location.assign(next);
        return;
      }
      onDone();
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      setError(status === 401 ? "That API key is not valid." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="login" data-testid="login">
      <form class="card login-card" onSubmit={submit}>
        <h1>Log in to Swan</h1>
        <p class="muted small">
          Paste your API key. An admin creates one with <code>swan users create NAME</code> or{" "}
          <code>swan keys create NAME</code>.
        </p>
        <input
          type="password"
          name="api_key"
          autoComplete="current-password"
          placeholder="swan_…"
          aria-label="API key"
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          autoFocus
        />
        {error && <div class="error" role="alert">{error}</div>}
        <button type="submit" class="button primary" disabled={busy || !key.trim()}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </div>
  );
}
