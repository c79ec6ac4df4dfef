import { render } from "preact";
import { useState } from "preact/hooks";
import "./styles.css";
import { Link, useLocation } from "./router";
import { Home } from "./pages/Home";
import { Project } from "./pages/Project";
import { RunPage } from "./pages/Run";
import { Compare } from "./pages/Compare";
import { NotFound } from "./pages/NotFound";

function initialTheme(): string {
  const saved = localStorage.getItem("swan-theme");
  if (saved === "dark" || saved === "light") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
document.documentElement.dataset.theme = initialTheme();

function App() {
  const { path, query } = useLocation();
  const [theme, setTheme] = useState(document.documentElement.dataset.theme!);
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("swan-theme", next);
    setTheme(next);
  };
  let page;
  let m: RegExpMatchArray | null;
  if (path === "/" || path === "") page = <Home query={query} />;
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
        <button class="theme" onClick={toggle} title="Light / dark">
          {theme === "dark" ? "☀" : "☾"}
        </button>
      </header>
      <main>{page}</main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
