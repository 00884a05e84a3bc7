/** One log line per finished request: timings and sizes, never a key or a prompt. */
export interface RequestLog {
  endpointId: string;
  model: string;
  outcome: string;
  ttftMs?: number;
  totalMs: number;
  inputTokens?: number;
  outputTokens?: number;
  retries: number;
  requestId?: string;
}

export function requestLogLine(r: RequestLog): string {
  const fields = [
    `endpoint=${r.endpointId}`,
    `model=${r.model}`,
    `outcome=${r.outcome}`,
    `ttft=${r.ttftMs === undefined ? '-' : `${Math.round(r.ttftMs)}ms`}`,
    `total=${Math.round(r.totalMs)}ms`,
    `in=${r.inputTokens ?? '-'}`,
    `out=${r.outputTokens ?? '-'}`,
    `retries=${r.retries}`,
  ];
  if (r.requestId) fields.push(`request-id=${r.requestId}`);
  return fields.join(' ');
}
