import { setQuery } from "../router";
import { groupKeys } from "../lib/buckets";
import { fmtDuration, fmtNum, fmtTime } from "../format";
import { formatZoom, parseZoom, type ZoomRange } from "../lib/zoom";
import { Chart, type ChartOptions } from "./Chart";

export function chartOptions(query: URLSearchParams): ChartOptions {
  const x = query.get("x");
  return {
    x: x === "time" || x === "relative" ? x : "step",
    smoothing: Math.min(0.99, Math.max(0, Number(query.get("smooth") ?? 0) || 0)),
    log: query.get("log") === "1",
    band: query.get("band") !== "0",
    zoom: parseZoom(query.get("zoom")),
    collapsed: (query.get("collapsed") ?? "").split(",").filter(Boolean).map(decodeURIComponent),
  };
}

/** A value of the x axis as people read it: steps as numbers, times as dates or durations (ms). */
function fmtX(x: ChartOptions["x"], v: number): string {
  if (x === "time") return fmtTime(v);
  if (x === "relative") return fmtDuration(v);
  return fmtNum(v);
}

export function ChartControls({ opts }: { opts: ChartOptions }) {
  return (
    <div class="controls" role="group" aria-label="Chart controls">
      <label>x-axis{" "}
        {/* a zoom range is in the old axis' units: it does not carry over */}
        <select value={opts.x} onChange={(e) => setQuery({ x: (e.target as HTMLSelectElement).value, zoom: null })} aria-label="x axis">
          <option value="step">step</option>
          <option value="time">wall time</option>
          <option value="relative">relative time</option>
        </select>
      </label>
      <label title="Debiased EMA over the bucketed values (the last value of each bucket)">
        smoothing <input type="range" min="0" max="0.99" step="0.01" value={opts.smoothing}
                         onInput={(e) => setQuery({ smooth: (e.target as HTMLInputElement).value === "0" ? null : (e.target as HTMLInputElement).value })} />
        <span class="mono">{opts.smoothing.toFixed(2)}</span> <span class="muted small">(EMA of bucket values)</span>
      </label>
      <label class="check"><input type="checkbox" checked={opts.log} onChange={() => setQuery({ log: opts.log ? null : "1" })} /> log scale</label>
      <label class="check"><input type="checkbox" checked={opts.band} onChange={() => setQuery({ band: opts.band ? "0" : null })} /> min/max band</label>
      {opts.zoom ? (
        <span class="small" data-testid="zoom-range">
          zoomed to {fmtX(opts.x, opts.zoom[0])} – {fmtX(opts.x, opts.zoom[1])}{" "}
          <button class="link small" onClick={() => setQuery({ zoom: null })}>reset zoom</button>
        </span>
      ) : <span class="muted small">drag to zoom · double-click to reset</span>}
    </div>
  );
}

export function ChartGrid(props: { keys: string[]; runIds: string[]; names: Record<string, string>;
                                   colors: Record<string, string>; opts: ChartOptions; refresh: number }) {
  const closed = new Set(props.opts.collapsed);
  const groups = groupKeys(props.keys);
  const onZoom = (range: ZoomRange | null) => setQuery({ zoom: formatZoom(range) });
  if (!props.keys.length) return <p class="muted">No metrics logged.</p>;
  return (
    <div class="chart-groups">
      {groups.map((g) => (
        <section key={g.name} class="chart-group" data-group={g.name}>
          <h3 class="group-title" onClick={() => {
            const next = new Set(closed);
            next.has(g.name) ? next.delete(g.name) : next.add(g.name);
            setQuery({ collapsed: Array.from(next).map(encodeURIComponent).join(",") });
          }}>
            <span class="caret">{closed.has(g.name) ? "▸" : "▾"}</span> {g.name} <span class="muted small">{g.keys.length}</span>
          </h3>
          {!closed.has(g.name) && (
            <div class="chart-grid">
              {g.keys.map((k) => (
                <Chart key={k} metricKey={k} runIds={props.runIds} names={props.names} colors={props.colors}
                       opts={props.opts} refresh={props.refresh} onZoom={onZoom} />
              ))}
            </div>
          )}
        </section>
      ))}
    </div>
  );
}
