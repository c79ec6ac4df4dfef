/** The zoom range of a page's charts, kept in the URL (`zoom=LO..HI`, in the x axis' own units:
 * steps, or milliseconds for wall and relative time) so a zoomed view can be shared as a link.
 * All charts of a page share one range, which keeps them lined up like the synced tooltip. */
import { mergeZoom, type BucketedSeries } from "./buckets";

export type ZoomRange = [number, number];

/** `"LO..HI"` with integers LO < HI, else null (a hand-edited or truncated link shows everything). */
export function parseZoom(value: string | null): ZoomRange | null {
  const m = /^(-?\d+)\.\.(-?\d+)$/.exec(value ?? "");
  if (!m) return null;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo >= hi) return null;
  return [lo, hi];
}

export function formatZoom(range: ZoomRange | null): string | null {
  return range ? `${range[0]}..${range[1]}` : null;
}

/** The selected span of x values widened to whole units: the server takes integer bounds, and a
 * selection narrower than one unit still covers the point under it. */
export function selectionToZoom(lo: number, hi: number): ZoomRange | null {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return null;
  const a = Math.floor(Math.min(lo, hi));
  const b = Math.ceil(Math.max(lo, hi));
  return [a, b > a ? b : a + 1];
}

/** The full-range buckets with the ones overlapping the zoom replaced by the zoom's finer buckets,
 * so the chart keeps the rest of the series as context. */
export function zoomInto(full: BucketedSeries, fine: BucketedSeries, range: ZoomRange): BucketedSeries {
  if (full.width === null) return fine;
  const [lo, hi] = range;
  const runs = full.runs.map((r) => {
    const f = fine.runs.find((fr) => fr.run_id === r.run_id);
    return f ? mergeZoom(r, full.width!, f, lo, hi) : r;
  });
  return { ...fine, runs };
}
