/** A tiny history router: the whole page state lives in the URL (path + query), so any view can
 * be shared as a link. */
import { useEffect, useState } from "preact/hooks";

// Links printed by the MLflow client (`<host>/#/experiments/<id>/runs/<run_id>`) carry their
// target in the hash, which never reaches the server: translate them to our own routes.
const mlflowLink = /^#\/experiments\/(\d+)(?:\/runs\/([0-9a-f]{32}))?/.exec(window.location.hash);
if (mlflowLink) {
  history.replaceState(null, "", mlflowLink[2] ? `/runs/${mlflowLink[2]}` : `/projects/${mlflowLink[1]}`);
}

type Listener = () => void;
const listeners = new Set<Listener>();
window.addEventListener("popstate", () => listeners.forEach((l) => l()));

export function navigate(to: string, replace = false) {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((l) => l());
  if (!replace) window.scrollTo(0, 0);
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

/** Change some query parameters of the current URL (null/"" removes one). */
export function setQuery(changes: Record<string, string | null | undefined>, replace = true) {
  const q = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === "") q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(window.location.pathname + (s ? `?${s}` : ""), replace);
}

export function Link(props: { href: string; class?: string; children: any; title?: string }) {
  return (
    <a
      href={props.href}
      class={props.class}
      title={props.title}
      onClick={(e: MouseEvent) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}
