// Prints vitest's JSON results as one plain closing line: "N passed, N failed, N skipped".
const { readFileSync } = require('node:fs');

const file = process.argv[2] ?? 'test-results.json';
const results = JSON.parse(readFileSync(file, 'utf8'));
const skipped = results.numPendingTests + results.numTodoTests;
console.log(`${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`);
if (results.numTotalTests === 0) {
  console.error('No test ran.');
  process.exit(1);
}
