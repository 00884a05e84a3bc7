import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ConfigError, type TimeoutError, resolveTimeouts } from '../../src/core';
import { PhaseTimers } from '../../src/core/request/timeouts';

const site = { provider: 'ollama' as const, origin: 'http://127.0.0.1:11434' };
const limits = { connectMs: 1000, firstTokenMs: 5000, idleMs: 2000, totalMs: 60_000 };

describe('PhaseTimers (fake time)', () => {
  let fired: TimeoutError[];
  let timers: PhaseTimers;
  beforeEach(() => {
    vi.useFakeTimers();
    fired = [];
    timers = new PhaseTimers(limits, site, (error) => fired.push(error));
  });
  afterEach(() => {
    timers.clear();
    vi.useRealTimers();
  });

  test('first token runs from the request being sent, not from the start', async () => {
    timers.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fired).toEqual([]);
    timers.requestSent();
    await vi.advanceTimersByTimeAsync(4999);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired.map((e) => e.phase)).toEqual(['firstToken']);
    expect(fired[0]!.message).toBe(
      'Ollama at 127.0.0.1:11434 sent no first token within 5 s; if the model is loading or the prompt is long, raise the first-token timeout.',
    );
  });

  test('idle restarts at every delta and only fires on a real gap', async () => {
    timers.start();
    timers.requestSent();
    for (let i = 0; i < 10; i++) {
      timers.contentArrived();
      await vi.advanceTimersByTimeAsync(1900);
    }
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired.map((e) => e.phase)).toEqual(['idle']);
  });

  test('total fires even while deltas keep coming, and only one timeout fires', async () => {
    timers.start();
    timers.requestSent();
    for (let i = 0; i < 70; i++) {
      timers.contentArrived();
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(fired.map((e) => e.phase)).toEqual(['total']);
    expect(fired[0]!.retryable).toBe(false);
  });

  test('0 turns a limit off', async () => {
    const off = new PhaseTimers({ ...limits, firstTokenMs: 0, totalMs: 0 }, site, (error) => fired.push(error));
    off.start();
    off.requestSent();
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(fired).toEqual([]);
    off.clear();
  });

  test('clear leaves no timer behind', () => {
    timers.start();
    timers.requestSent();
    timers.contentArrived();
    // One Node timer serves every phase (it was one per phase until the engine was made lighter).
    expect(vi.getTimerCount()).toBe(1);
    timers.clear();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('resolveTimeouts', () => {
  test('defaults suit a cloud API and a model loading from disk', () => {
    expect(resolveTimeouts()).toEqual({ connectMs: 10_000, firstTokenMs: 120_000, idleMs: 30_000, totalMs: 600_000 });
  });

  test('rejects negative, fractional and overflowing values with a ConfigError', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 31]) {
      expect(() => resolveTimeouts({ idleMs: bad })).toThrow(ConfigError);
    }
    expect(() => resolveTimeouts({ idleMs: -1 })).toThrow(/idleMs must be a whole number/);
  });
});
