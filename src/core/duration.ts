/**
 * Every duration a person reads (timeouts, retry waits, latencies, wall
 * times, quota resets) in one form: "250 ms", "1.5 s", "35 s", "1 min 5 s",
 * "2 min", "1 h 30 min", "2 h". Each step rounds first and then picks its
 * unit, so 999.6 ms is "1 s", never "1000 ms", and 59.96 s is "1 min".
 */
export function formatDuration(ms: number): string {
  const millis = Math.max(0, Math.round(ms));
  if (millis < 1000) return `${millis} ms`;
  // Tenths below a minute, without a trailing ".0": "1.5 s", "5 s".
  const tenths = Math.round(millis / 100);
  if (tenths < 600) return `${tenths / 10} s`;
  const seconds = Math.round(millis / 1000);
  if (seconds < 3600) return joinUnits(Math.floor(seconds / 60), 'min', seconds % 60, 's');
  const minutes = Math.round(millis / 60_000);
  return joinUnits(Math.floor(minutes / 60), 'h', minutes % 60, 'min');
}

/** "2 min 5 s", or "2 min" when the smaller unit is zero. */
function joinUnits(large: number, largeUnit: string, small: number, smallUnit: string): string {
  return small ? `${large} ${largeUnit} ${small} ${smallUnit}` : `${large} ${largeUnit}`;
}
