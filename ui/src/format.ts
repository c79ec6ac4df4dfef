export function fmtTime(ms: number | null | undefined): string {
  if (!ms) return "—";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function fmtAgo(ms: number | null | undefined): string {
  if (!ms) return "—";
  const d = Date.now() - ms;
  if (d < 60_000) return "just now";
  return `${fmtDuration(d).split(" ")[0]} ago`;
}

export function fmtNum(v: any): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

export function duration(run: { start_time?: number | null; end_time?: number | null; status?: string }): number | null {
  if (!run.start_time) return null;
  const end = run.end_time ?? (run.status === "RUNNING" ? Date.now() : null);
  return end ? end - run.start_time : null;
}

/** MLflow filter/order identifiers: backticks when the key is not a plain word. */
export function ident(entity: string, key: string): string {
  return /^[A-Za-z_][\w]*$/.test(key) ? `${entity}.${key}` : `${entity}.\`${key}\``;
}

export const COLORS = ["#4c8bf5", "#f5664c", "#2fb67c", "#b06cf0", "#f2a73b", "#22b8cf", "#e8590c", "#7c8ea3",
  "#d6336c", "#94d82d", "#845ef7", "#15aabf"];
export function color(i: number): string {
  return COLORS[i % COLORS.length];
}
