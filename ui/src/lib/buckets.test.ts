import { describe, expect, it } from "vitest";
import { alignRuns, groupKeys, mergeZoom, positiveOnly, type RunBuckets } from "./buckets";
import { debiasedEma } from "./smooth";

const run = (x: number[], v: number[]): RunBuckets => ({ run_id: "r", x, min: v, max: v, last: v });

describe("mergeZoom", () => {
  it("replaces the coarse buckets overlapping the zoom range with the fine ones", () => {
    const coarse = run([0, 100, 200, 300, 400], [1, 2, 3, 4, 5]);
    const fine = run([150, 160, 170, 280], [9, 8, 7, 6]);
    const merged = mergeZoom(coarse, 100, fine, 150, 280);
    expect(merged.x).toEqual([0, 150, 160, 170, 280, 300, 400]);
    expect(merged.last).toEqual([1, 9, 8, 7, 6, 4, 5]);
  });
  it("keeps the fine buckets when the zoom reaches past the coarse ones", () => {
    const merged = mergeZoom(run([0, 10], [1, 2]), 10, run([25, 30], [5, 6]), 20, 40);
    expect(merged.x).toEqual([0, 10, 25, 30]);
  });
  it("a spike seen only in the fine buckets survives the merge", () => {
    const coarse = run([0, 1000], [1, 1]);
    const fine = { run_id: "r", x: [1000, 1010], min: [1, 1], max: [1, 99], last: [1, 1] };
    const merged = mergeZoom(coarse, 1000, fine, 1000, 1999);
    expect(Math.max(...(merged.max as number[]))).toBe(99);
  });
});

describe("alignRuns", () => {
  it("lines runs up on the union of their bucket starts, with gaps", () => {
    const a = alignRuns([run([0, 10, 20], [1, 2, 3]), { ...run([10, 30], [5, 6]), run_id: "b" }]);
    expect(a.xs).toEqual([0, 10, 20, 30]);
    expect(a.runs[0].last).toEqual([1, 2, 3, null]);
    expect(a.runs[1].last).toEqual([null, 5, null, 6]);
  });
});

describe("debiasedEma", () => {
  it("is the identity at weight 0", () => {
    expect(debiasedEma([1, 2, null, 3], 0)).toEqual([1, 2, null, 3]);
  });
  it("debiases the start: a constant stays constant", () => {
    const out = debiasedEma([5, 5, 5, 5], 0.9) as number[];
    out.forEach((v) => expect(v).toBeCloseTo(5, 10));
  });
  it("matches the TensorBoard formula and skips gaps", () => {
    const w = 0.6;
    const out = debiasedEma([1, null, 3], w) as number[];
    const l1 = (1 - w) * 1;
    const l2 = l1 * w + (1 - w) * 3;
    expect(out[0]).toBeCloseTo(l1 / (1 - w), 12);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeCloseTo(l2 / (1 - w * w), 12);
  });
  it("smooths a step towards the new level", () => {
    const out = debiasedEma([0, 0, 0, 10, 10, 10], 0.5) as number[];
    expect(out[3]).toBeGreaterThan(0);
    expect(out[3]).toBeLessThan(10);
    expect(out[5]).toBeGreaterThan(out[4]!);
  });
});

describe("helpers", () => {
  it("positiveOnly drops what a log scale cannot draw", () => {
    expect(positiveOnly([1, 0, -2, null, 3])).toEqual([1, null, null, null, 3]);
  });
  it("groups keys by prefix, system last", () => {
    expect(groupKeys(["system/cpu", "val/acc", "loss", "train/loss", "train/acc"])).toEqual([
      { name: "metrics", keys: ["loss"] },
      { name: "train", keys: ["train/acc", "train/loss"] },
      { name: "val", keys: ["val/acc"] },
      { name: "system", keys: ["system/cpu"] },
    ]);
  });
});
