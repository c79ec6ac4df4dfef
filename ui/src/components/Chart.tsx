import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useEffect, useRef, useState } from "preact/hooks";
import { alignRuns, positiveOnly, type BucketedSeries } from "../lib/buckets";
import { selectionToZoom, zoomInto, type ZoomRange } from "../lib/zoom";
import { debiasedEma } from "../lib/smooth";
import { fetchBuckets } from "../lib/fetchBuckets";
import { fmtDuration, fmtNum } from "../format";

export interface ChartOptions {
  x: "step" | "time" | "relative";
  smoothing: number;
  log: boolean;
  band: boolean;
  /** the page's zoom range, in the x axis' server units; null shows the whole range */
  zoom: ZoomRange | null;
  /** key groups folded away on the chart grid */
  collapsed: string[];
}

interface Props {
  metricKey: string;
  runIds: string[];
  names: Record<string, string>;
  colors: Record<string, string>;
  opts: ChartOptions;
  refresh: number;
  onZoom: (range: ZoomRange | null) => void;
}

/** What the chart draws: the buckets and the zoom range they were fetched for. */
interface View {
  series: BucketedSeries;
  zoom: ZoomRange | null;
}

const HEIGHT = 210;

function alpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

function xFormatter(x: string) {
  if (x === "relative") return (_u: uPlot, vals: number[]) => vals.map((v) => fmtDuration(v * 1000));
  if (x === "step") return (_u: uPlot, vals: number[]) => vals.map((v) => fmtNum(v));
  return undefined;
}

export function Chart({ metricKey, runIds, names, colors, opts, refresh, onZoom }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [view, setView] = useState<View | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The last full-range buckets and what they were fetched for: a zoom change reuses them as the
  // context around the finer buckets instead of fetching them again.
  const full = useRef<{ id: string; series: BucketedSeries } | null>(null);
  const runKey = runIds.join(",");
  const [zoomLo, zoomHi] = opts.zoom ?? [null, null];

  const width = () => Math.max(200, box.current?.clientWidth ?? 400);
  const buckets = () => Math.min(2000, Math.max(50, Math.round(width() / 50) * 50));

  // The whole range, plus finer buckets for the zoom range merged into it. Every input is a
  // dependency: a new x axis, run set or live refresh refetches both, zoomed or not.
  useEffect(() => {
    let live = true;
    const n = buckets();
    const zoom = opts.zoom;
    const fullId = [metricKey, runKey, opts.x, n, refresh].join("|");
    const whole = full.current?.id === fullId
      ? Promise.resolve(full.current.series)
      : fetchBuckets(runIds, metricKey, opts.x, n).then((series) => {
        full.current = { id: fullId, series };
        return series;
      });
    const fine = zoom ? fetchBuckets(runIds, metricKey, opts.x, n, zoom[0], zoom[1]) : Promise.resolve(null);
    Promise.all([whole, fine])
      .then(([w, f]) => {
        if (!live) return;
        setView(zoom && f ? { series: zoomInto(w, f, zoom), zoom } : { series: w, zoom: null });
        setError(null);
      })
      .catch((e) => live && setError(String(e.message ?? e)));
    return () => {
      live = false;
    };
  }, [metricKey, runKey, opts.x, refresh, zoomLo, zoomHi]);

  useEffect(() => {
    if (!box.current || !view) return;
    const data = view.series;
    // the axis the buckets were fetched for: the URL may already name another one still loading
    const xAxis = data.x_axis;
    const aligned = alignRuns(data.runs);
    const scaleX = xAxis === "step" ? 1 : 1 / 1000;
    const xs = aligned.xs.map((v) => v * scaleX);
    const series: uPlot.Series[] = [{}];
    const columns: (number | null)[][] = [];
    const bands: uPlot.Band[] = [];
    aligned.runs.forEach((r) => {
      const c = colors[r.run_id] ?? "#4c8bf5";
      const fix = (v: (number | null)[]) => (opts.log ? positiveOnly(v) : v);
      series.push({ label: names[r.run_id] ?? r.run_id.slice(0, 8), stroke: c, width: 1.6, spanGaps: true,
                    points: { show: xs.length < 60, size: 4 } });
      columns.push(fix(debiasedEma(r.last, opts.smoothing)));
      if (opts.band) {
        const iMax = series.length;
        // the band's edges are drawn faintly, so a one-bucket spike stays visible
        series.push({ label: "max", stroke: alpha(c, 0.45), width: 1, spanGaps: true, points: { show: false } });
        columns.push(fix(r.max));
        series.push({ label: "min", stroke: alpha(c, 0.45), width: 1, spanGaps: true, points: { show: false } });
        columns.push(fix(r.min));
        bands.push({ series: [iMax, iMax + 1], fill: alpha(c, 0.16) });
      }
    });
    const dark = document.documentElement.dataset.theme === "dark";
    const axisColor = dark ? "#9aa4b2" : "#5b6472";
    const grid = { stroke: dark ? "#2a313c" : "#eef0f3", width: 1 };
    const opts2: uPlot.Options = {
      width: width(),
      height: HEIGHT,
      series,
      bands,
      legend: { show: false },
      scales: { x: { time: xAxis === "time" }, y: { distr: opts.log ? 3 : 1 } },
      axes: [
        { stroke: axisColor, grid, ticks: grid, values: xFormatter(xAxis) as any, size: 30 },
        { stroke: axisColor, grid, ticks: grid, size: 56, values: (_u, vals) => vals.map((v) => (v === null ? "" : fmtNum(v))) },
      ],
      cursor: {
        sync: { key: "swan-charts", setSeries: false },
        drag: { x: true, y: false, setScale: false },
        points: { size: 6 },
      },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const lo = u.posToVal(u.select.left, "x") / scaleX;
            const hi = u.posToVal(u.select.left + u.select.width, "x") / scaleX;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            const range = selectionToZoom(lo, hi);
            if (range) onZoom(range);
          },
        ],
        setCursor: [
          (u) => {
            const el = tip.current;
            if (!el) return;
            const idx = u.cursor.idx;
            if (idx === null || idx === undefined || u.cursor.left! < 0) {
              el.style.display = "none";
              return;
            }
            const xv = u.data[0][idx];
            const xl = xAxis === "time" ? new Date(xv * 1000).toLocaleString() : xAxis === "relative"
              ? fmtDuration(xv * 1000) : `step ${fmtNum(xv)}`;
            let html = `<div class="tip-x">${xl}</div>`;
            aligned.runs.forEach((r, i) => {
              const col = opts.band ? 1 + i * 3 : 1 + i;
              const v = u.data[col][idx];
              const band = opts.band ? ` <span class="tip-band">[${fmtNum(r.min[idx])} … ${fmtNum(r.max[idx])}]</span>` : "";
              html += `<div><i style="background:${colors[r.run_id]}"></i>${names[r.run_id] ?? r.run_id.slice(0, 8)}: <b>${fmtNum(v)}</b>${band}</div>`;
            });
            el.innerHTML = html;
            el.style.display = "block";
          },
        ],
      },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts2, [xs, ...columns] as uPlot.AlignedData, box.current);
    if (view.zoom) plot.current.setScale("x", { min: view.zoom[0] * scaleX, max: view.zoom[1] * scaleX });
    // what was drawn, for tests and for anyone inspecting the page
    const el = box.current;
    el.dataset.state = "drawn";
    el.dataset.points = String(xs.length);
    el.dataset.xAxis = xAxis;
    el.dataset.zoom = view.zoom ? `${view.zoom[0]}..${view.zoom[1]}` : "";
    el.dataset.xMax = String(aligned.xs.length ? aligned.xs[aligned.xs.length - 1] : "");
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: HEIGHT }));
    ro.observe(box.current);
    return () => ro.disconnect();
  }, [view, opts.smoothing, opts.log, opts.band, document.documentElement.dataset.theme]);

  useEffect(() => () => plot.current?.destroy(), []);

  const data = view?.series;
  const total = data?.runs.reduce((a, r) => a + r.x.length, 0) ?? 0;
  return (
    <div class="chart-card" data-key={metricKey}>
      <div class="chart-head">
        <span class="chart-title" title={metricKey}>{metricKey}</span>
        {opts.zoom && (
          <button class="link small" onClick={() => onZoom(null)} title="Back to the whole range">reset zoom</button>
        )}
        {opts.smoothing > 0 && <span class="badge" title="Debiased EMA applied to the bucketed values">EMA {opts.smoothing}</span>}
      </div>
      {error && <div class="error small">{error}</div>}
      {!data && !error && <div class="chart-loading" style={{ height: HEIGHT }}>loading…</div>}
      {data && total === 0 && <div class="chart-loading" style={{ height: HEIGHT }}>no points</div>}
      <div class="chart" ref={box} onDblClick={() => onZoom(null)} />
      <div class="chart-tip" ref={tip} />
    </div>
  );
}
