/** Bucketed-series requests from many charts at once are batched: one GET per tick for every key
 * that shares the same runs, x axis, width and range. */
import { getJson } from "../api";
import type { BucketedSeries } from "./buckets";

interface Pending {
  keys: Map<string, { resolve: (s: BucketedSeries) => void; reject: (e: any) => void }[]>;
  params: { runs: string[]; x: string; n: number; lo?: number; hi?: number };
}
const pending = new Map<string, Pending>();
const MAX_KEYS = 20;

export function fetchBuckets(runs: string[], key: string, x: string, n: number, lo?: number, hi?: number): Promise<BucketedSeries> {
  const id = [runs.join(","), x, n, lo ?? "", hi ?? ""].join("|");
  let p = pending.get(id);
  if (!p) {
    p = { keys: new Map(), params: { runs, x, n, lo, hi } };
    pending.set(id, p);
    setTimeout(() => flush(id), 0);
  }
  return new Promise((resolve, reject) => {
    const list = p!.keys.get(key) ?? [];
    list.push({ resolve, reject });
    p!.keys.set(key, list);
  });
}

function flush(id: string) {
  const p = pending.get(id);
  pending.delete(id);
  if (!p) return;
  const keys = Array.from(p.keys.keys());
  for (let i = 0; i < keys.length; i += MAX_KEYS) {
    const part = keys.slice(i, i + MAX_KEYS);
    const { runs, x, n, lo, hi } = p.params;
    getJson<{ series: BucketedSeries[] }>("/api/v1/series/buckets", { key: part, run_id: runs.join(","), x, n, lo, hi })
      .then((body) => {
        body.series.forEach((s) => p.keys.get(s.key)?.forEach((r) => r.resolve(s)));
      })
      .catch((e) => part.forEach((k) => p.keys.get(k)?.forEach((r) => r.reject(e))));
  }
}
