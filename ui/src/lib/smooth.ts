/** Debiased exponential moving average (TensorBoard's and W&B's default smoothing).
 *
 * `weight` in [0, 1): 0 leaves the values as they are. Nulls and non-finite values pass through
 * without advancing the average. The first values are debiased (divided by 1 - weight^n) so the
 * curve does not start at zero. Swan applies it to the bucketed values the chart shows (the last
 * value of each bucket), and says so next to the control. */
export function debiasedEma(values: (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) return values.slice();
  const w = Math.min(weight, 0.999);
  const out: (number | null)[] = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * w + (1 - w) * v;
    n++;
    out[i] = last / (1 - Math.pow(w, n));
  }
  return out;
}
