import { useEffect, useState } from "preact/hooks";
import { ApiError, getJson } from "../api";
import { Link, setQuery } from "../router";
import { color, duration, fmtDuration, fmtNum, fmtTime } from "../format";
import { ChartControls, ChartGrid, chartOptions } from "../components/ChartGrid";
import { ArtifactBrowser, ConsolePanel, MediaPanel } from "../components/Panels";
import { useLivePoll } from "../lib/live";
import { ErrorBox, NotFound } from "./NotFound";

export function RunPage({ id, query }: { id: string; query: URLSearchParams; theme: string }) {
  const [ov, setOv] = useState<any>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  const tab = query.get("tab") ?? "charts";
  const opts = chartOptions(query);

  useEffect(() => {
    setOv(null);
    setMissing(false);
    getJson(`/api/v1/runs/${encodeURIComponent(id)}/overview`)
      .then((b) => { setOv(b); document.title = `${b.run.name ?? id} · Swan`; })
      .catch((e) => (e instanceof ApiError && e.status === 404 ? setMissing(true) : setError(e.message)));
  }, [id]);

  // A running run updates live: its overview and charts are read again every few seconds.
  const running = ov?.run.status === "RUNNING";
  useLivePoll(running, () => {
    getJson(`/api/v1/runs/${encodeURIComponent(id)}/overview`).then((b) => { setOv(b); setRefresh((r) => r + 1); }).catch(() => undefined);
  }, [id]);

  if (missing) return <NotFound what="run" detail={id} />;
  if (error) return <div class="page"><ErrorBox message={error} /></div>;
  if (!ov) return <div class="page"><p class="muted">Loading…</p></div>;
  const run = ov.run;
  const keys: string[] = ov.metrics.map((m: any) => m.key);
  const tabs = [["charts", `Charts (${keys.length})`], ["media", `Media (${ov.project.media_count})`],
    ["console", `Console (${ov.project.log_line_count})`], ["artifacts", "Artifacts"]];
  const userTags = Object.entries(ov.tags as Record<string, string>).filter(([k]) => !k.startsWith("mlflow."));
  const system = ov.system ?? {};
  return (
    <div class="page wide">
      <div class="crumbs">
        <Link href="/">Projects</Link> / <Link href={`/projects/${ov.project.id}`}>{ov.project.name}</Link> / <span>{run.name}</span>
      </div>
      <div class="page-head">
        <h1>{run.name ?? run.run_id}</h1>
        <span class={`status ${run.status}`} data-testid="run-status">{run.status}{running ? " · live" : ""}</span>
        <span class="spacer" />
        <Link href={`/compare?runs=${run.run_id}`} class="button">Compare…</Link>
      </div>
      <div class="overview">
        <div class="card facts">
          <dl>
            <dt>Run id</dt><dd class="mono">{run.run_id}</dd>
            <dt>User</dt><dd>{run.user_id ?? "—"}</dd>
            <dt>Started</dt><dd>{fmtTime(run.start_time)}</dd>
            <dt>Ended</dt><dd>{fmtTime(run.end_time)}</dd>
            <dt>Duration</dt><dd>{fmtDuration(duration(run))}</dd>
            {ov.tags["mlflow.source.name"] && <><dt>Source</dt><dd class="mono">{ov.tags["mlflow.source.name"]}</dd></>}
          </dl>
          {ov.description && <p class="description">{ov.description}</p>}
          {userTags.length > 0 && <div class="tags">{userTags.map(([k, v]) => <span class="tag">{v ? `${k}: ${v}` : k}</span>)}</div>}
        </div>
        <div class="card">
          <h4>Params <span class="muted small">{Object.keys(ov.params).length}</span></h4>
          <KeyValues data={ov.params} />
        </div>
        <div class="card">
          <h4>Latest metrics</h4>
          <KeyValues data={Object.fromEntries(ov.metrics.filter((m: any) => !m.key.startsWith("system/")).slice(0, 40).map((m: any) => [m.key, fmtNum(m.last)]))} />
        </div>
        {Object.keys(system).length > 0 && (
          <div class="card">
            <h4>System</h4>
            <SystemInfo system={system} />
          </div>
        )}
      </div>
      <nav class="tabs">
        {tabs.map(([t, label]) => (
          <button class={t === tab ? "tab active" : "tab"} onClick={() => setQuery({ tab: t === "charts" ? null : t })}>{label}</button>
        ))}
      </nav>
      {tab === "charts" && (
        <>
          <ChartControls opts={opts} />
          <ChartGrid keys={keys} runIds={[run.run_id]} names={{ [run.run_id]: run.name }} colors={{ [run.run_id]: color(0) }}
                     opts={opts} refresh={refresh} />
        </>
      )}
      {tab === "media" && <MediaPanel runId={run.run_id} query={query} setQuery={setQuery} />}
      {tab === "console" && <ConsolePanel runId={run.run_id} q={query.get("cq") ?? ""} level={query.get("clevel") ?? ""} setQuery={setQuery} />}
      {tab === "artifacts" && <ArtifactBrowser runId={run.run_id} selected={query.get("file") ?? ""} setQuery={setQuery} />}
    </div>
  );
}

export function KeyValues({ data }: { data: Record<string, any> }) {
  const entries = Object.entries(data);
  if (!entries.length) return <p class="muted small">none</p>;
  return (
    <table class="kv"><tbody>
      {entries.map(([k, v]) => <tr key={k}><th title={k}>{k}</th><td title={String(v)}>{String(v)}</td></tr>)}
    </tbody></table>
  );
}

function SystemInfo({ system }: { system: Record<string, any> }) {
  const flat: Record<string, string> = {};
  const walk = (prefix: string, v: any, depth: number) => {
    if (Object.keys(flat).length > 40) return;
    if (v && typeof v === "object" && !Array.isArray(v) && depth < 3) {
      for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x, depth + 1);
    } else flat[prefix] = typeof v === "string" ? v.slice(0, 200) : JSON.stringify(v)?.slice(0, 200);
  };
  walk("", system, 0);
  return <KeyValues data={flat} />;
}
