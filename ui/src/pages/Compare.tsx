import { useEffect, useState } from "preact/hooks";
import { getJson } from "../api";
import { Link, setQuery } from "../router";
import { color, fmtNum } from "../format";
import { ChartControls, ChartGrid, chartOptions } from "../components/ChartGrid";
import { useLivePoll } from "../lib/live";
import { ErrorBox } from "./NotFound";

export function Compare({ query }: { query: URLSearchParams; theme: string }) {
  const runIds = (query.get("runs") ?? "").split(",").map(decodeURIComponent).filter(Boolean).slice(0, 100);
  const [ovs, setOvs] = useState<any[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const opts = chartOptions(query);
  const onlyDiff = query.get("diff") !== "0";
  const [refresh, setRefresh] = useState(0);
  const overviews = () => Promise.all(runIds.map((r) => getJson(`/api/v1/runs/${encodeURIComponent(r)}/overview`)));
  useEffect(() => {
    document.title = "Compare · Swan";
    if (!runIds.length) return;
    overviews().then(setOvs).catch((e) => setError(e.message));
  }, [runIds.join(",")]);
  // While any compared run is running, the overviews and every chart are read again.
  const running = ovs?.some((o) => o.run.status === "RUNNING") ?? false;
  useLivePoll(running, () => {
    overviews().then((b) => { setOvs(b); setRefresh((r) => r + 1); }).catch(() => undefined);
  }, [runIds.join(",")]);
  if (!runIds.length) return <div class="page"><p class="muted">Select runs in a project's run table to compare them.</p></div>;
  if (error) return <div class="page"><ErrorBox message={error} /></div>;
  if (!ovs) return <div class="page"><p class="muted">Loading…</p></div>;
  const names: Record<string, string> = {};
  const colors: Record<string, string> = {};
  ovs.forEach((o, i) => { names[o.run.run_id] = o.run.name ?? o.run.run_id.slice(0, 8); colors[o.run.run_id] = color(i); });
  const keys = Array.from(new Set(ovs.flatMap((o) => o.metrics.map((m: any) => m.key)))).sort();
  const paramKeys = Array.from(new Set(ovs.flatMap((o) => Object.keys(o.params)))).sort();
  const differs = (k: string) => new Set(ovs.map((o) => o.params[k] ?? "\u0000")).size > 1;
  const shown = paramKeys.filter((k) => !onlyDiff || differs(k));
  return (
    <div class="page wide">
      <div class="crumbs"><Link href="/">Projects</Link> / <Link href={`/projects/${ovs[0].project.id}`}>{ovs[0].project.name}</Link> / <span>Compare</span></div>
      <div class="page-head"><h1>Compare {ovs.length} runs</h1></div>
      <div class="legend">
        {ovs.map((o) => (
          <Link href={`/runs/${o.run.run_id}`} class="legend-item"><i style={{ background: colors[o.run.run_id] }} />{names[o.run.run_id]}
            {o.run.status === "RUNNING" && <span class="status RUNNING small"> live</span>}</Link>
        ))}
      </div>
      <div class="card">
        <h4>Params{" "}
          <label class="check small"><input type="checkbox" checked={onlyDiff} onChange={() => setQuery({ diff: onlyDiff ? "0" : null })} /> only differences</label>
        </h4>
        {shown.length === 0 ? <p class="muted small">{paramKeys.length ? "All params are equal." : "No params."}</p> : (
          <div class="csv"><table class="grid params-diff">
            <thead><tr><th>param</th>{ovs.map((o) => <th style={{ color: colors[o.run.run_id] }}>{names[o.run.run_id]}</th>)}</tr></thead>
            <tbody>{shown.map((k) => (
              <tr class={differs(k) ? "diff" : ""}><th>{k}</th>{ovs.map((o) => <td>{o.params[k] ?? "—"}</td>)}</tr>
            ))}</tbody>
          </table></div>
        )}
      </div>
      <div class="card">
        <h4>Latest metrics</h4>
        <div class="csv"><table class="grid">
          <thead><tr><th>metric</th>{ovs.map((o) => <th style={{ color: colors[o.run.run_id] }}>{names[o.run.run_id]}</th>)}</tr></thead>
          <tbody>{keys.filter((k) => !k.startsWith("system/")).slice(0, 30).map((k) => (
            <tr><th>{k}</th>{ovs.map((o) => <td class="num">{fmtNum(o.metrics.find((m: any) => m.key === k)?.last)}</td>)}</tr>
          ))}</tbody>
        </table></div>
      </div>
      <ChartControls opts={opts} />
      <ChartGrid keys={keys} runIds={ovs.map((o) => o.run.run_id)} names={names} colors={colors} opts={opts} refresh={refresh} />
    </div>
  );
}
