import { expect, test } from 'vitest';
import { formatDuration } from '../../src/core';

test('one form for every duration a person reads', () => {
  const cases: [number, string][] = [
    [-5, '0 ms'],
    [250, '250 ms'],
    [999.4, '999 ms'],
    [999.6, '1 s'],
    [1000, '1 s'],
    [1200, '1.2 s'],
    [1500, '1.5 s'],
    [35_000, '35 s'],
    [59_940, '59.9 s'],
    [59_960, '1 min'],
    [61_000, '1 min 1 s'],
    [119_600, '2 min'],
    [125_000, '2 min 5 s'],
    [3_599_000, '59 min 59 s'],
    [3_599_700, '1 h'],
    [5_400_000, '1 h 30 min'],
    [7_200_000, '2 h'],
  ];
  expect(cases.map(([ms]) => [ms, formatDuration(ms)])).toEqual(cases);
});
