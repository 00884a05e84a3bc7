/** Batch: one prompt over many files, resumable, on the engine. */
export { runBatch, jobIdOf, inputFilter, type BatchJob, type BatchProgress, type BatchReport, type BatchSummary } from './runner';
export { estimateBatch, impliedMs, type BatchEstimate } from './estimate';
export { writeReport, reportPath } from './report';
export { expandInputs, countInputs, type BatchInput, type IgnoreCheck } from './files';
export { mirrorTarget, contained, type OutputTarget } from './output';
export { writeAtomically, refuseLinks } from '../fs/safe-fs';
export { BatchLockedError } from './errors';
export { UnsafePathError } from '../fs/errors';
export { LOCK_NAME } from './lock';
export { DEFAULT_SKIP_RULES, looksLikeSecret, type SkipRules } from './skip';
export { renderPrompt, languageOf } from './template';
export type { ItemRecord, ItemStatus } from './journal';
export { loadTokenCounter } from './load-token-counter';
