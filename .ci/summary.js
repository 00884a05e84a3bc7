// One plain closing line for the whole run: "N passed, N failed, N skipped", from vitest's JSON
// results, the demo's smoke run (its exit status in DEMO_SMOKE_STATUS) and the E2E suite's
// results.json.
const { existsSync, readFileSync } = require('node:fs');

const [unitFile = 'test-results.json', e2eFile = 'e2e-artifacts/results.json'] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(unitFile)) {
  const unit = JSON.parse(readFileSync(unitFile, 'utf8'));
  passed += unit.numPassedTests;
  failed += unit.numFailedTests;
  skipped += unit.numPendingTests + unit.numTodoTests;
} else {
  failed += 1;
  console.error(`No unit results in ${unitFile}.`);
}
const smoke = process.env.DEMO_SMOKE_STATUS;
if (smoke === '0') {
  passed += 1;
} else if (smoke !== undefined) {
  failed += 1;
  console.error(`The demo's smoke run failed (exit status ${smoke}).`);
}
if (existsSync(e2eFile)) {
  const e2e = JSON.parse(readFileSync(e2eFile, 'utf8'));
  passed += e2e.passed;
  failed += e2e.failed.length;
} else {
  failed += 1;
  console.error(`No E2E results in ${e2eFile}: the suite did not run.`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed + failed === 0) process.exit(1);
