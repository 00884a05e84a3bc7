/**
 * Listening to a caller's AbortSignal, one real listener per signal.
 *
 * A batch or a benchmark hands one signal to every call it makes; with a
 * listener per call (and per queue wait and retry sleep) a run at
 * concurrency 32 put 32 or more listeners on it, and Node warned of a leak
 * (MaxListenersExceededWarning). Here every signal carries at most one
 * listener, which fans out to the calls waiting on it, and is removed when
 * the last of them stops listening.
 */

interface Fanout {
  readonly listeners: Set<() => void>;
  readonly dispatch: () => void;
}

const fanouts = new WeakMap<AbortSignal, Fanout>();

const NOTHING_TO_STOP = (): void => {};

/**
 * Calls `listener` once when `signal` aborts. Returns the function that
 * stops listening; call it when the work the signal guards is over. A signal
 * that has already aborted calls nothing: check `aborted` first.
 */
export function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  if (!signal || signal.aborted) return NOTHING_TO_STOP;
  const fanout = fanouts.get(signal) ?? attach(signal);
  // A wrapper per registration, so the same function registered twice is called twice.
  const entry = (): void => listener();
  fanout.listeners.add(entry);
  return () => {
    if (!fanout.listeners.delete(entry) || fanout.listeners.size > 0) return;
    signal.removeEventListener('abort', fanout.dispatch);
    fanouts.delete(signal);
  };
}

function attach(signal: AbortSignal): Fanout {
  const listeners = new Set<() => void>();
  const dispatch = (): void => {
    fanouts.delete(signal);
    const waiting = [...listeners];
    listeners.clear();
    for (const listener of waiting) listener();
  };
  signal.addEventListener('abort', dispatch, { once: true });
  const fanout = { listeners, dispatch };
  fanouts.set(signal, fanout);
  return fanout;
}
