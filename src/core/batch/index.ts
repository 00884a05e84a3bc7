/** Batch: one prompt over many files, resumable, on the engine. */
export {
  runBatch,
  jobIdOf,
  sharedJobIdOf,
  inputFilter,
  type BatchJob,
  type BatchMode,
  type PromptCacheSetting,
  type BatchProgress,
  type BatchReport,
  type ProviderBatchProgress,
} from './runner';
export { estimateBatch, type BatchEstimate } from './estimate';
export { batchStatus, type FolderStatus, type JobStatus } from './status';
export {
  chooseMode,
  compareModes,
  DEFAULT_AUTO_RULES,
  PROVIDER_WINDOW_MS,
  type AutoRules,
  type ModeComparison,
} from './modes';
export { offersProviderBatches } from './provider';
export { writeReport } from './report';
export { countInputs, type IgnoreCheck } from './files';
export { mirrorTarget, contained } from './output';
export { writeAtomically, refuseLinks } from '../fs/safe-fs';
export { BatchFilesError, BatchLockedError } from './errors';
export { UnsafePathError } from '../fs/errors';
export { LOCK_NAME } from './lock';
export { renderPrompt } from './template';
export type { ItemRecord } from './journal';
export { loadTokenCounter } from '../tokens/load-token-counter';
