import { describe, expect, it } from "vitest";
import type { BucketedSeries, RunBuckets } from "./buckets";
import { formatZoom, parseZoom, selectionToZoom, zoomInto } from "./zoom";

const run = (id: string, x: number[], v: number[]): RunBuckets => ({ run_id: id, x, min: v, max: v, last: v });
const series = (width: number | null, runs: RunBuckets[]): BucketedSeries =>
  ({ key: "loss", x_axis: "step", lo: null, hi: null, width, n: 100, runs });

describe("zoom in the URL", () => {
  it("round-trips a range", () => {
    expect(parseZoom(formatZoom([120, 4500]))).toEqual([120, 4500]);
    expect(parseZoom(formatZoom([-30, 7]))).toEqual([-30, 7]);
    expect(formatZoom(null)).toBeNull();
  });
  it("ignores missing, malformed, empty and reversed ranges", () => {
    for (const bad of [null, "", "12", "1..", "..5", "a..b", "1.5..3", "5..5", "9..2", "1..99999999999999999999"])
      expect(parseZoom(bad)).toBeNull();
  });
});

describe("selectionToZoom", () => {
  it("widens the selection to whole units and orders its ends", () => {
    expect(selectionToZoom(10.4, 20.2)).toEqual([10, 21]);
    expect(selectionToZoom(20.2, 10.4)).toEqual([10, 21]);
  });
  it("keeps at least one unit", () => {
    expect(selectionToZoom(7, 7)).toEqual([7, 8]);
  });
  it("refuses a selection off the scale", () => {
    expect(selectionToZoom(NaN, 3)).toBeNull();
  });
});

describe("zoomInto", () => {
  it("merges each run's fine buckets into its full-range ones", () => {
    const full = series(100, [run("a", [0, 100, 200], [1, 2, 3]), run("b", [0, 100, 200], [4, 5, 6])]);
    const fine = series(10, [run("b", [100, 110], [50, 51]), run("a", [100, 110], [20, 21])]);
    const merged = zoomInto(full, fine, [100, 119]);
    expect(merged.runs.map((r) => r.x)).toEqual([[0, 100, 110, 200], [0, 100, 110, 200]]);
    expect(merged.runs[0].last).toEqual([1, 20, 21, 3]);
    expect(merged.runs[1].last).toEqual([4, 50, 51, 6]);
    expect(merged.width).toBe(10);
  });
  it("keeps a run the zoom request did not return", () => {
    const full = series(100, [run("a", [0, 100], [1, 2])]);
    expect(zoomInto(full, series(10, []), [0, 50]).runs[0].x).toEqual([0, 100]);
  });
  it("shows only the fine buckets when the full range had none", () => {
    const fine = series(10, [run("a", [5], [1])]);
    expect(zoomInto(series(null, []), fine, [0, 50])).toBe(fine);
  });
});
