import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, getJson } from "../api";
import { Link, navigate, setQuery } from "../router";
import { duration, fmtDuration, fmtNum, fmtTime, ident } from "../format";
import { useLivePoll } from "../lib/live";
import { ErrorBox, NotFound } from "./NotFound";

const ROW = 34;
const PAGE = 100;

interface Row {
  run_id: string; name: string; status: string; user_id: string | null; start_time: number | null;
  end_time: number | null; tags: Record<string, string>; params: Record<string, string>; metrics: Record<string, any>;
}

function splitList(v: string | null): string[] | null {
  if (v === null) return null;
  return v === "" ? [] : v.split(",").map(decodeURIComponent);
}
const joinList = (l: string[]) => l.map(encodeURIComponent).join(",");

export function Project({ id, query }: { id: string; query: URLSearchParams }) {
  const filter = query.get("filter") ?? "";
  const sort = query.get("sort") ?? "";
  const selected = new Set(splitList(query.get("sel")) ?? []);
  const [project, setProject] = useState<any>(null);
  const [missing, setMissing] = useState(false);
  const [keys, setKeys] = useState<{ params: string[]; metrics: string[]; tags: string[] } | null>(null);
  const [text, setText] = useState(filter);
  const [total, setTotal] = useState<number | null>(null);
  const [pages, setPages] = useState<Map<number, Row[]>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [chooser, setChooser] = useState(false);
  const [scrollTop, setScrollTop] = useState(0);
  const loading = useRef(new Set<number>());
  const scroller = useRef<HTMLDivElement>(null);

  useEffect(() => setText(filter), [filter]);
  useEffect(() => {
    getJson(`/api/v1/projects/${encodeURIComponent(id)}`)
      .then((b) => { setProject(b.project); document.title = `${b.project.name} · Swan`; })
      .catch((e) => e instanceof ApiError && e.status === 404 ? setMissing(true) : setError(e.message));
    getJson(`/api/v1/projects/${encodeURIComponent(id)}/keys`).then(setKeys).catch(() => undefined);
  }, [id]);

  const paramCols = splitList(query.get("params")) ?? keys?.params.slice(0, 3) ?? [];
  const metricCols = splitList(query.get("metrics")) ?? keys?.metrics.slice(0, 4) ?? [];
  const viewKey = [id, filter, sort, paramCols.join("\u0001"), metricCols.join("\u0001")].join("|");

  useEffect(() => {
    setPages(new Map());
    setTotal(null);
    loading.current = new Set();
    if (scroller.current) scroller.current.scrollTop = 0;
    setScrollTop(0);
  }, [viewKey]);

  // `again` reads a page already loaded (a live refresh); otherwise each page is read once.
  const loadPage = (p: number, again = false) => {
    if (loading.current.has(p) && !again) return;
    loading.current.add(p);
    const key = viewKey;
    getJson(`/api/v1/projects/${encodeURIComponent(id)}/run-table`, {
      filter, order_by: sort ? [sort] : undefined, offset: p * PAGE, limit: PAGE, param: paramCols, metric: metricCols,
    })
      .then((b) => {
        if (key !== viewKeyRef.current) return;
        setTotal(b.total);
        setError(null);
        setPages((old) => new Map(old).set(p, b.runs));
      })
      .catch((e) => {
        if (key !== viewKeyRef.current || again) return;
        loading.current.delete(p);
        setError(e.message);
        setTotal(0);
      });
  };
  const viewKeyRef = useRef(viewKey);
  viewKeyRef.current = viewKey;

  const height = Math.min(Math.max(window.innerHeight - 300, 300), Math.max(total ?? 0, 1) * ROW + 2);
  const first = Math.max(0, Math.floor(scrollTop / ROW) - 10);
  const last = Math.min((total ?? PAGE) - 1, Math.ceil((scrollTop + height) / ROW) + 10);
  useEffect(() => {
    if (keys === null && query.get("params") === null) return; // wait for default columns
    for (let p = Math.floor(first / PAGE); p <= Math.floor(Math.max(last, 0) / PAGE); p++) if (!pages.has(p)) loadPage(p);
  }, [viewKey, first, last, keys === null, total]);

  // Visible pages that hold a running run are read again, so status, duration and metrics move
  // (only the visible ones: a sweep of thousands of running runs costs a page or two per tick).
  const livePages = Array.from(pages.entries())
    .filter(([p, rs]) => p >= Math.floor(first / PAGE) && p <= Math.floor(last / PAGE) && rs.some((r) => r.status === "RUNNING"))
    .map(([p]) => p);
  useLivePoll(livePages.length > 0, () => livePages.forEach((p) => loadPage(p, true)), [viewKey]);

  const rows: { i: number; row: Row | null }[] = [];
  if (total) for (let i = first; i <= last; i++) rows.push({ i, row: pages.get(Math.floor(i / PAGE))?.[i % PAGE] ?? null });

  const columns = useMemo(() => [
    { id: "sel", label: "", width: "34px" },
    { id: "name", label: "Name", sort: "attributes.run_name", width: "minmax(160px, 1.6fr)" },
    { id: "status", label: "Status", sort: "attributes.status", width: "96px" },
    { id: "user", label: "User", sort: "attributes.user_id", width: "minmax(70px, .6fr)" },
    { id: "start", label: "Started", sort: "attributes.start_time", width: "140px" },
    { id: "dur", label: "Duration", width: "84px" },
    { id: "tags", label: "Tags", width: "minmax(90px, 1fr)" },
    ...paramCols.map((k) => ({ id: `p:${k}`, label: k, sort: ident("params", k), width: "minmax(80px, .8fr)", kind: "param" })),
    ...metricCols.map((k) => ({ id: `m:${k}`, label: k, sort: ident("metrics", k), width: "minmax(90px, .8fr)", kind: "metric" })),
  ], [paramCols.join(), metricCols.join()]);
  const template = columns.map((c) => c.width).join(" ");

  const toggleSort = (s?: string) => {
    if (!s) return;
    const [cur, dir] = sort.split(/ (?=ASC$|DESC$)/);
    setQuery({ sort: cur === s ? `${s} ${dir === "ASC" ? "DESC" : "ASC"}` : `${s} DESC` });
  };
  const sortMark = (s?: string) => {
    if (!s || !sort.startsWith(s + " ") && sort !== s) return "";
    return sort.endsWith("ASC") ? " ▲" : " ▼";
  };
  const toggleSel = (runId: string) => {
    const next = new Set(selected);
    next.has(runId) ? next.delete(runId) : next.add(runId);
    setQuery({ sel: joinList(Array.from(next)) });
  };
  const setCols = (kind: "params" | "metrics", key: string, on: boolean) => {
    const cur = kind === "params" ? paramCols : metricCols;
    const next = on ? [...cur, key] : cur.filter((k) => k !== key);
    setQuery({ [kind]: joinList(next) });
  };

  if (missing) return <NotFound what="project" detail={id} />;
  return (
    <div class="page wide">
      <div class="crumbs"><Link href="/">Projects</Link> / <span>{project?.name ?? "…"}</span></div>
      <div class="page-head">
        <h1>{project?.name ?? " "}</h1>
        <span class="muted">{total !== null ? `${total.toLocaleString()} runs` : ""}</span>
      </div>
      <div class="toolbar">
        <form class="filter" onSubmit={(e) => { e.preventDefault(); setQuery({ filter: text.trim() }); }}>
          <input type="text" class={"filter-input" + (error ? " invalid" : "")} value={text} spellcheck={false}
                 placeholder="Filter: metrics.acc > 0.9 and params.model = 'tree'"
                 onInput={(e) => setText((e.target as HTMLInputElement).value)} aria-label="Filter runs" />
          <button type="submit">Apply</button>
          {filter && <button type="button" class="link" onClick={() => setQuery({ filter: null })}>clear</button>}
        </form>
        <span class="spacer" />
        <button onClick={() => setChooser(!chooser)} aria-expanded={chooser}>Columns</button>
        <button class="primary" disabled={selected.size < 1}
                onClick={() => navigate(`/compare?runs=${joinList(Array.from(selected))}`)}>
          Compare{selected.size ? ` (${selected.size})` : ""}
        </button>
      </div>
      {error && <div class="filter-error" data-testid="filter-error"><ErrorBox message={error} /></div>}
      {chooser && keys && (
        <div class="chooser">
          {(["params", "metrics"] as const).map((kind) => (
            <div key={kind}>
              <h4>{kind}</h4>
              {keys[kind].length === 0 && <span class="muted">none</span>}
              {keys[kind].map((k) => {
                const on = (kind === "params" ? paramCols : metricCols).includes(k);
                return (
                  <label key={k} class="check">
                    <input type="checkbox" checked={on} onChange={() => setCols(kind, k, !on)} /> {k}
                  </label>
                );
              })}
            </div>
          ))}
        </div>
      )}
      <div class="vtable" role="table">
        <div class="vrow vhead" style={{ gridTemplateColumns: template }} role="row">
          {columns.map((c) => (
            <div key={c.id} class={"vcell" + ((c as any).sort ? " sortable" : "") + ((c as any).kind ? ` ${(c as any).kind}` : "")}
                 title={c.label} onClick={() => toggleSort((c as any).sort)} role="columnheader">
              {c.label}{sortMark((c as any).sort)}
            </div>
          ))}
        </div>
        <div class="vbody" ref={scroller} style={{ height: `${height}px` }}
             onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}>
          <div style={{ height: `${(total ?? 0) * ROW}px`, position: "relative" }}>
            {rows.map(({ i, row }) => (
              <div key={i} class={"vrow" + (row && selected.has(row.run_id) ? " selected" : "")} role="row"
                   style={{ gridTemplateColumns: template, top: `${i * ROW}px`, position: "absolute", left: 0, right: 0, height: `${ROW}px` }}>
                {row ? (
                  <>
                    <div class="vcell"><input type="checkbox" aria-label={`select ${row.name}`} checked={selected.has(row.run_id)}
                                              onChange={() => toggleSel(row.run_id)} /></div>
                    <div class="vcell"><Link href={`/runs/${row.run_id}`} class="strong run-link">{row.name || row.run_id.slice(0, 8)}</Link></div>
                    <div class="vcell"><span class={`status ${row.status}`}>{row.status}</span></div>
                    <div class="vcell muted">{row.user_id ?? "—"}</div>
                    <div class="vcell">{fmtTime(row.start_time)}</div>
                    <div class="vcell num">{fmtDuration(duration(row))}</div>
                    <div class="vcell tags">{Object.entries(row.tags).slice(0, 4).map(([k, v]) => (
                      <span class="tag" title={`${k}=${v}`}>{v ? `${k}:${v}` : k}</span>))}</div>
                    {paramCols.map((k) => <div class="vcell param" title={row.params[k]}>{row.params[k] ?? "—"}</div>)}
                    {metricCols.map((k) => <div class="vcell num metric">{fmtNum(row.metrics[k])}</div>)}
                  </>
                ) : (
                  <div class="vcell muted" style={{ gridColumn: "1 / -1" }}>…</div>
                )}
              </div>
            ))}
          </div>
        </div>
        {total === 0 && !error && <p class="muted pad">No runs match.</p>}
      </div>
    </div>
  );
}
