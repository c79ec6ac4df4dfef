import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { getJson } from "../api";
import { fmtTime } from "../format";
import { cellText, parseMlflowTable, type MlflowTable } from "../lib/mlflowTable";

// -- media ------------------------------------------------------------------------------------
interface MediaKey { key: string; kind: string; steps: number[]; counts: number[] }

export function MediaPanel({ runId, query, setQuery }: { runId: string; query: URLSearchParams; setQuery: (c: any) => void }) {
  const [keys, setKeys] = useState<MediaKey[] | null>(null);
  useEffect(() => {
    getJson(`/api/v1/runs/${runId}/media-index`).then((b) => setKeys(b.keys)).catch(() => setKeys([]));
  }, [runId]);
  if (!keys) return null;
  if (!keys.length) return <p class="muted">No media logged.</p>;
  return (
    <div class="media-grid">
      {keys.map((k) => <MediaKeyView key={k.key} runId={runId} mk={k} query={query} setQuery={setQuery} />)}
    </div>
  );
}

function MediaKeyView({ runId, mk, query, setQuery }: { runId: string; mk: MediaKey; query: URLSearchParams; setQuery: (c: any) => void }) {
  const param = `m.${mk.key}`;
  const wanted = Number(query.get(param) ?? mk.steps[mk.steps.length - 1]);
  let idx = mk.steps.findIndex((s) => s >= wanted);
  if (idx < 0) idx = mk.steps.length - 1;
  const step = mk.steps[idx];
  const [items, setItems] = useState<any[]>([]);
  useEffect(() => {
    getJson(`/api/v1/runs/${runId}/media-at`, { key: mk.key, step }).then((b) => setItems(b.items)).catch(() => setItems([]));
  }, [runId, mk.key, step]);
  return (
    <div class="media-card">
      <div class="chart-head"><span class="chart-title">{mk.key}</span><span class="muted small">{mk.kind} · step {step}</span></div>
      {mk.steps.length > 1 && (
        <input type="range" class="step-slider" min={0} max={mk.steps.length - 1} value={idx} aria-label={`${mk.key} step`}
               onInput={(e) => setQuery({ [param]: String(mk.steps[Number((e.target as HTMLInputElement).value)]) })} />
      )}
      <div class="media-items">
        {items.map((it) => <MediaItemView key={it.seq} item={it} />)}
      </div>
    </div>
  );
}

function MediaItemView({ item }: { item: any }) {
  if (item.kind === "image")
    return <figure><img src={item.url} alt={item.caption ?? item.key} loading="lazy" />{item.caption && <figcaption>{item.caption}</figcaption>}</figure>;
  if (item.kind === "audio") return <figure><audio controls src={item.url} />{item.caption && <figcaption>{item.caption}</figcaption>}</figure>;
  if (item.kind === "video") return <figure><video controls src={item.url} /></figure>;
  if (item.kind === "echarts") return <EChartView url={item.url} />;
  if (item.kind === "text") return <TextFetch url={item.url} />;
  return <a href={item.url}>{item.path}</a>;
}

function TextFetch({ url }: { url: string }) {
  const [text, setText] = useState("");
  useEffect(() => { fetch(url).then((r) => r.text()).then((t) => setText(t.slice(0, 20000))); }, [url]);
  return <pre class="textbox">{text}</pre>;
}

/** SwanLab's custom charts arrive as ECharts option JSON: ECharts is loaded only when one is shown. */
function EChartView({ url }: { url: string }) {
  const el = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let chart: any;
    let live = true;
    Promise.all([import("echarts"), fetch(url).then((r) => r.json())])
      .then(([echarts, option]) => {
        if (!live || !el.current) return;
        const dark = document.documentElement.dataset.theme === "dark";
        chart = echarts.init(el.current, dark ? "dark" : undefined);
        chart.setOption(option?.options ?? option?.option ?? option);
        el.current.dataset.state = "drawn";
      })
      .catch((e) => setError(String(e)));
    return () => { live = false; chart?.dispose(); };
  }, [url]);
  return error ? <div class="error small">{error}</div> : <div class="echart" ref={el} />;
}

// -- console ----------------------------------------------------------------------------------
export function ConsolePanel({ runId, q, level, setQuery }: { runId: string; q: string; level: string; setQuery: (c: any) => void }) {
  const [lines, setLines] = useState<any[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [total, setTotal] = useState(0);
  const [text, setText] = useState(q);
  const load = (start: number | null, append: boolean) =>
    getJson(`/api/v1/runs/${runId}/console/search`, { q, level, start_line: start ?? undefined, limit: 500 }).then((b) => {
      setLines((old) => (append ? [...old, ...b.lines] : b.lines));
      setNext(b.next_line);
      setTotal(b.total);
    });
  useEffect(() => { load(null, false).catch(() => undefined); }, [runId, q, level]);
  return (
    <div class="console">
      <form class="toolbar" onSubmit={(e) => { e.preventDefault(); setQuery({ cq: text }); }}>
        <input type="search" placeholder="Search console…" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} aria-label="Search console" />
        <select value={level} onChange={(e) => setQuery({ clevel: (e.target as HTMLSelectElement).value })} aria-label="level">
          <option value="">all levels</option><option>INFO</option><option>WARN</option><option>ERROR</option><option>DEBUG</option>
        </select>
        <span class="muted small">{total.toLocaleString()} lines</span>
      </form>
      {lines.length === 0 ? <p class="muted">No console output{q || level ? " matches" : ""}.</p> : (
        <pre class="console-lines">
          {lines.map((l) => (
            <div key={l.line} class={`cl ${l.level}`}><span class="ln">{l.line}</span><span class="ts">{fmtTime(l.timestamp).slice(11)}</span>{l.message}</div>
          ))}
        </pre>
      )}
      {next !== null && <button onClick={() => load(next, true)}>Load more</button>}
    </div>
  );
}

// -- artifacts --------------------------------------------------------------------------------
interface FileRow { path: string; is_dir: boolean; file_size?: number | null }

export function ArtifactBrowser({ runId, selected, setQuery }: { runId: string; selected: string; setQuery: (c: any) => void }) {
  return (
    <div class="artifacts">
      <div class="tree"><Dir runId={runId} path="" selected={selected} onSelect={(p) => setQuery({ file: p })} /></div>
      <div class="preview">{selected ? <Preview runId={runId} path={selected} /> : <p class="muted">Select a file to preview it.</p>}</div>
    </div>
  );
}

function Dir({ runId, path, selected, onSelect }: { runId: string; path: string; selected: string; onSelect: (p: string) => void }) {
  const [files, setFiles] = useState<FileRow[] | null>(null);
  const [open, setOpen] = useState<Set<string>>(new Set(selected ? selected.split("/").slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join("/")) : []));
  useEffect(() => {
    getJson(`/api/v1/runs/${runId}/artifacts`, { path }).then((b) => setFiles(b.files)).catch(() => setFiles([]));
  }, [runId, path]);
  if (!files) return <div class="muted small">…</div>;
  if (!files.length && !path) return <p class="muted">No artifacts.</p>;
  return (
    <ul>
      {files.map((f) => {
        const name = f.path.split("/").pop();
        if (f.is_dir)
          return (
            <li key={f.path}>
              <span class="dir" onClick={() => { const n = new Set(open); n.has(f.path) ? n.delete(f.path) : n.add(f.path); setOpen(n); }}>
                {open.has(f.path) ? "▾" : "▸"} {name}/
              </span>
              {open.has(f.path) && <Dir runId={runId} path={f.path} selected={selected} onSelect={onSelect} />}
            </li>
          );
        return (
          <li key={f.path} class={f.path === selected ? "file active" : "file"} onClick={() => onSelect(f.path)}>
            {name} <span class="muted small">{f.file_size != null ? fmtSize(f.file_size) : ""}</span>
          </li>
        );
      })}
    </ul>
  );
}

function fmtSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1 << 20)).toFixed(1)} MB`;
}

function Preview({ runId, path }: { runId: string; path: string }) {
  const [p, setP] = useState<any>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setP(null);
    getJson(`/api/v1/runs/${runId}/artifact-preview`, { path }).then(setP).catch((e) => setError(e.message));
  }, [runId, path]);
  const url = `/api/v1/runs/${runId}/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`;
  if (error) return <div class="error">{error}</div>;
  if (!p) return <p class="muted">Loading…</p>;
  return (
    <div>
      <div class="chart-head"><span class="chart-title">{path}</span><a class="small" href={url} download>download</a></div>
      {p.kind === "image" && <img class="preview-img" src={url} alt={path} />}
      {p.kind === "csv" && <CsvTable text={p.text} sep={path.endsWith(".tsv") ? "\t" : ","} />}
      {p.kind === "json" && <JsonPreview text={p.text} />}
      {p.kind === "text" && <pre class="textbox">{p.text}</pre>}
      {p.kind === "binary" && <p class="muted">Binary file ({fmtSize(p.size)}): no preview.</p>}
      {p.truncated && <p class="muted small">Showing the first 256 KB.</p>}
    </div>
  );
}

/** MLflow's `log_table` files as a table; any other JSON as text. */
function JsonPreview({ text }: { text: string }) {
  const table = useMemo(() => parseMlflowTable(text), [text]);
  return table ? <LoggedTable table={table} /> : <pre class="textbox">{text}</pre>;
}

const MAX_TABLE_ROWS = 200;

function LoggedTable({ table }: { table: MlflowTable }) {
  const shown = table.rows.slice(0, MAX_TABLE_ROWS);
  return (
    <div>
      <div class="csv"><table class="grid logged-table">
        <thead><tr>{table.columns.map((c, i) => <th key={i}>{c}</th>)}</tr></thead>
        <tbody>{shown.map((row, r) => <tr key={r}>{row.map((v, i) => <td key={i}>{cellText(v)}</td>)}</tr>)}</tbody>
      </table></div>
      {table.rows.length > shown.length &&
        <p class="muted small">Showing the first {shown.length.toLocaleString()} of {table.rows.length.toLocaleString()} rows.</p>}
    </div>
  );
}

function CsvTable({ text, sep }: { text: string; sep: string }) {
  const rows = text.split(/\r?\n/).filter((r) => r.length).slice(0, 200).map((r) => r.split(sep));
  if (!rows.length) return <p class="muted">Empty.</p>;
  return (
    <div class="csv"><table class="grid">
      <thead><tr>{rows[0].map((c) => <th>{c}</th>)}</tr></thead>
      <tbody>{rows.slice(1).map((r) => <tr>{r.map((c) => <td>{c}</td>)}</tr>)}</tbody>
    </table></div>
  );
}
