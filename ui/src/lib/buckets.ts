/** Bucketed series as the server sends them, and the merges the charts need. */

export interface RunBuckets {
  run_id: string;
  x: number[];
  min: (number | null)[];
  max: (number | null)[];
  last: (number | null)[];
  last_x?: number[];
}

export interface BucketedSeries {
  key: string;
  x_axis: "step" | "time" | "relative";
  lo: number | null;
  hi: number | null;
  width: number | null;
  n: number;
  rows_read?: number;
  runs: RunBuckets[];
}

/** Replace the buckets of `coarse` that overlap [lo, hi] by the finer buckets of `fine` (a zoom
 * into that range), keeping the coarse ones outside it as context. Both are one run's buckets,
 * sorted by x; `coarseWidth` is the coarse buckets' width. */
export function mergeZoom(coarse: RunBuckets, coarseWidth: number, fine: RunBuckets, lo: number, hi: number): RunBuckets {
  const out: RunBuckets = { run_id: coarse.run_id, x: [], min: [], max: [], last: [] };
  const push = (b: RunBuckets, i: number) => {
    out.x.push(b.x[i]);
    out.min.push(b.min[i]);
    out.max.push(b.max[i]);
    out.last.push(b.last[i]);
  };
  let j = 0;
  for (let i = 0; i < coarse.x.length; i++) {
    const start = coarse.x[i];
    const end = start + coarseWidth - 1;
    if (end < lo) {
      push(coarse, i);
      continue;
    }
    if (start > hi) {
      while (j < fine.x.length) push(fine, j++);
      push(coarse, i);
      continue;
    }
    // overlapping coarse bucket: dropped, the fine ones cover it
  }
  while (j < fine.x.length) push(fine, j++);
  return out;
}

export interface Aligned {
  xs: number[];
  /** per run: [last, min, max] aligned to xs (null where the run has no bucket) */
  runs: { run_id: string; last: (number | null)[]; min: (number | null)[]; max: (number | null)[] }[];
}

/** Line every run's buckets up on the union of their x values (uPlot wants one x array). Runs of
 * one response share aligned bucket starts, so the union stays about as long as one run's. */
export function alignRuns(runs: RunBuckets[]): Aligned {
  const set = new Set<number>();
  for (const r of runs) for (const x of r.x) set.add(x);
  const xs = Array.from(set).sort((a, b) => a - b);
  const index = new Map<number, number>();
  xs.forEach((x, i) => index.set(x, i));
  return {
    xs,
    runs: runs.map((r) => {
      const last = new Array<number | null>(xs.length).fill(null);
      const min = new Array<number | null>(xs.length).fill(null);
      const max = new Array<number | null>(xs.length).fill(null);
      r.x.forEach((x, i) => {
        const k = index.get(x)!;
        last[k] = r.last[i];
        min[k] = r.min[i];
        max[k] = r.max[i];
      });
      return { run_id: r.run_id, last, min, max };
    }),
  };
}

/** For a log scale: values that cannot be drawn (<= 0) become gaps. */
export function positiveOnly(values: (number | null)[]): (number | null)[] {
  return values.map((v) => (v !== null && v > 0 ? v : null));
}

/** Group metric keys into chart sections by their prefix (`train/loss` -> `train`); `system/`
 * keys go last, keys without a prefix into "metrics". */
export function groupKeys(keys: string[]): { name: string; keys: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const slash = key.indexOf("/");
    const name = slash > 0 ? key.slice(0, slash) : "metrics";
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name)!.push(key);
  }
  const names = Array.from(groups.keys()).sort((a, b) => {
    const rank = (n: string) => (n === "metrics" ? 0 : n === "system" ? 2 : 1);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  return names.map((name) => ({ name, keys: groups.get(name)!.sort() }));
}
