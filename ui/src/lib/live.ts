/** Pages showing a running run read it again every few seconds. */
import { useEffect, useRef } from "preact/hooks";

export const LIVE_MS = 5000;

/** Call `tick` every LIVE_MS while `active`. The latest `tick` is called, so it may close over
 * fresh state without restarting the timer. */
export function useLivePoll(active: boolean, tick: () => void, deps: unknown[] = []) {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => latest.current(), LIVE_MS);
    return () => clearInterval(t);
  }, [active, ...deps]);
}
