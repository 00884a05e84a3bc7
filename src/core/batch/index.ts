/** Batch: one prompt over many files, resumable, on the engine. */
export { runBatch, jobIdOf, inputFilter, type BatchJob, type BatchProgress, type BatchReport, type BatchSummary } from './runner';
export { estimateBatch, impliedMs, type BatchEstimate } from './estimate';
export { writeReport } from './report';
export { expandInputs, countInputs, type IgnoreCheck } from './files';
export { mirrorTarget, contained, writeAtomically, type OutputTarget } from './output';
export { DEFAULT_SKIP_RULES, looksLikeSecret, type SkipRules } from './skip';
export { renderPrompt, languageOf } from './template';
export type { ItemRecord, ItemStatus } from './journal';
export { loadTokenCounter } from './load-token-counter';
