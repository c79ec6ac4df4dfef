import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useEffect, useRef, useState } from "preact/hooks";
import { alignRuns, mergeZoom, positiveOnly, type BucketedSeries } from "../lib/buckets";
import { debiasedEma } from "../lib/smooth";
import { fetchBuckets } from "../lib/fetchBuckets";
import { fmtDuration, fmtNum } from "../format";

export interface ChartOptions {
  x: "step" | "time" | "relative";
  smoothing: number;
  log: boolean;
  band: boolean;
}

interface Props {
  metricKey: string;
  runIds: string[];
  names: Record<string, string>;
  colors: Record<string, string>;
  opts: ChartOptions;
  refresh: number;
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

export function Chart({ metricKey, runIds, names, colors, opts, refresh }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [data, setData] = useState<BucketedSeries | null>(null);
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const coarse = useRef<BucketedSeries | null>(null);
  const runKey = runIds.join(",");

  const width = () => Math.max(200, box.current?.clientWidth ?? 400);
  const buckets = () => Math.min(2000, Math.max(50, Math.round(width() / 50) * 50));

  // full range (and live refreshes when not zoomed)
  useEffect(() => {
    let live = true;
    if (zoom) return;
    fetchBuckets(runIds, metricKey, opts.x, buckets())
      .then((s) => {
        if (!live) return;
        coarse.current = s;
        setData(s);
        setError(null);
      })
      .catch((e) => live && setError(String(e.message ?? e)));
    return () => {
      live = false;
    };
  }, [metricKey, runKey, opts.x, refresh, zoom === null]);

  // zoom: finer buckets for the selected range, merged into the coarse ones for context
  useEffect(() => {
    if (!zoom) return;
    let live = true;
    const [lo, hi] = zoom;
    fetchBuckets(runIds, metricKey, opts.x, buckets(), lo, hi)
      .then((fine) => {
        if (!live) return;
        const base = coarse.current;
        if (!base || base.width === null) return setData(fine);
        const runs = base.runs.map((r) => {
          const f = fine.runs.find((fr) => fr.run_id === r.run_id);
          return f ? mergeZoom(r, base.width!, f, lo, hi) : r;
        });
        setData({ ...fine, runs });
      })
      .catch((e) => live && setError(String(e.message ?? e)));
    return () => {
      live = false;
    };
  }, [zoom && zoom[0], zoom && zoom[1], refresh]);

  useEffect(() => {
    if (!box.current || !data) return;
    const aligned = alignRuns(data.runs);
    const scaleX = opts.x === "step" ? 1 : 1 / 1000;
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
      scales: { x: { time: opts.x === "time" }, y: { distr: opts.log ? 3 : 1 } },
      axes: [
        { stroke: axisColor, grid, ticks: grid, values: xFormatter(opts.x) as any, size: 30 },
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
            setZoom([Math.floor(lo), Math.ceil(hi)]);
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
            const xl = opts.x === "time" ? new Date(xv * 1000).toLocaleString() : opts.x === "relative"
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
    if (zoom) plot.current.setScale("x", { min: zoom[0] * scaleX, max: zoom[1] * scaleX });
    box.current.dataset.state = "drawn";
    box.current.dataset.points = String(xs.length);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: HEIGHT }));
    ro.observe(box.current);
    return () => ro.disconnect();
  }, [data, opts.smoothing, opts.log, opts.band, document.documentElement.dataset.theme]);

  useEffect(() => () => plot.current?.destroy(), []);

  const total = data?.runs.reduce((a, r) => a + r.x.length, 0) ?? 0;
  return (
    <div class="chart-card" data-key={metricKey}>
      <div class="chart-head">
        <span class="chart-title" title={metricKey}>{metricKey}</span>
        {zoom && (
          <button class="link small" onClick={() => setZoom(null)} title="Back to the whole range">reset zoom</button>
        )}
        {opts.smoothing > 0 && <span class="badge" title="Debiased EMA applied to the bucketed values">EMA {opts.smoothing}</span>}
      </div>
      {error && <div class="error small">{error}</div>}
      {!data && !error && <div class="chart-loading" style={{ height: HEIGHT }}>loading…</div>}
      {data && total === 0 && <div class="chart-loading" style={{ height: HEIGHT }}>no points</div>}
      <div class="chart" ref={box} onDblClick={() => setZoom(null)} />
      <div class="chart-tip" ref={tip} />
    </div>
  );
}
