import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./styles.css";
import { Link, useLocation } from "./router";
import { Home } from "./pages/Home";
import { Project } from "./pages/Project";
import { RunPage } from "./pages/Run";
import { Compare } from "./pages/Compare";
import { NotFound } from "./pages/NotFound";
import { Login } from "./pages/Login";
import { ApiError, getJson, onUnauthenticated, postJson, type Me } from "./api";

function initialTheme(): string {
  const saved = localStorage.getItem("swan-theme");
  if (saved === "dark" || saved === "light") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
document.documentElement.dataset.theme = initialTheme();

function App() {
  const { path, query } = useLocation();
  const [theme, setTheme] = useState(document.documentElement.dataset.theme!);
  // undefined: not known yet; null: no login needed (authentication off); else who is logged in.
  const [me, setMe] = useState<Me["user"] | null | undefined>(undefined);
  const [needLogin, setNeedLogin] = useState(false);
  const [epoch, setEpoch] = useState(0);
  useEffect(() => onUnauthenticated(() => setNeedLogin(true)), []);
  useEffect(() => {
    getJson<Me>("/api/v1/me")
      .then((b) => { setMe(b.user); setNeedLogin(false); })
      .catch((e) => { if (!(e instanceof ApiError && e.status === 401)) setMe(null); });
  }, [epoch]);
  const loggedIn = () => { setNeedLogin(false); setEpoch((n) => n + 1); };
  const logout = async () => {
    try {
      await postJson("/api/v1/auth/logout", {});
    } finally {
      setMe(undefined);
      setNeedLogin(true);
    }
  };
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("swan-theme", next);
    setTheme(next);
  };
  let page;
  let m: RegExpMatchArray | null;
  if (needLogin) page = <Login onDone={loggedIn} />;
  else if (me === undefined) page = <p class="muted page">Loading…</p>;
  else if (path === "/" || path === "") page = <Home query={query} />;
  else if ((m = path.match(/^\/projects\/([^/]+)\/?$/))) page = <Project id={decodeURIComponent(m[1])} query={query} />;
  else if ((m = path.match(/^\/runs\/([^/]+)\/?$/))) page = <RunPage id={decodeURIComponent(m[1])} query={query} theme={theme} />;
  else if (path === "/compare" || path === "/compare/") page = <Compare query={query} theme={theme} />;
  else page = <NotFound what="page" />;
  return (
    <div class="app">
      <header class="topbar">
        <Link href="/" class="brand">
          <span class="logo">◆</span> Swan
        </Link>
        <span class="spacer" />
        <a class="toplink" href="/api/v1/openapi.json" target="_blank" rel="noreferrer">API</a>
        {me && !needLogin && (
          <span class="whoami" data-testid="whoami">
            {me.name} <span class="muted small">({me.role})</span>{" "}
            <button class="link" onClick={logout}>Log out</button>
          </span>
        )}
        <button class="theme" onClick={toggle} title="Light / dark">
          {theme === "dark" ? "☀" : "☾"}
        </button>
      </header>
      <main key={epoch}>{page}</main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
