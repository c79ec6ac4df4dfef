import { useEffect, useState } from "preact/hooks";
import { getJson } from "../api";
import { Link, setQuery } from "../router";
import { fmtAgo, fmtTime } from "../format";
import { ErrorBox } from "./NotFound";

interface ProjectRow { id: string; name: string; run_count: number; running: number; last_activity: number; creation_time: number }

export function Home({ query }: { query: URLSearchParams }) {
  const q = query.get("q") ?? "";
  const [projects, setProjects] = useState<ProjectRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [text, setText] = useState(q);
  useEffect(() => {
    document.title = "Projects · Swan";
    const ctl = new AbortController();
    getJson<{ projects: ProjectRow[] }>("/api/v1/projects/overview", { q }, ctl.signal)
      .then((b) => { setProjects(b.projects); setError(null); })
      .catch((e) => e.name !== "AbortError" && setError(e.message));
    return () => ctl.abort();
  }, [q]);
  useEffect(() => {
    const t = setTimeout(() => text !== q && setQuery({ q: text }), 250);
    return () => clearTimeout(t);
  }, [text]);
  return (
    <div class="page">
      <div class="page-head">
        <h1>Projects</h1>
        <input class="search" type="search" placeholder="Search projects…" value={text}
               onInput={(e) => setText((e.target as HTMLInputElement).value)} aria-label="Search projects" />
      </div>
      {error && <ErrorBox message={error} />}
      {projects && projects.length === 0 && <p class="muted">No projects{q ? ` matching “${q}”` : " yet: log a run with MLflow or SwanLab and it shows up here"}.</p>}
      {projects && projects.length > 0 && (
        <table class="grid projects">
          <thead>
            <tr><th>Name</th><th class="num">Runs</th><th class="num">Running</th><th>Last activity</th><th>Created</th></tr>
          </thead>
          <tbody>
            {projects.map((p) => (
              <tr key={p.id}>
                <td><Link href={`/projects/${p.id}`} class="strong">{p.name}</Link></td>
                <td class="num">{p.run_count}</td>
                <td class="num">{p.running ? <span class="status RUNNING">{p.running}</span> : "—"}</td>
                <td title={fmtTime(p.last_activity)}>{fmtAgo(p.last_activity)}</td>
                <td>{fmtTime(p.creation_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!projects && !error && <p class="muted">Loading…</p>}
    </div>
  );
}
