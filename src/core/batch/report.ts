import { join } from 'node:path';
import { batchFilesFailure } from './errors';
import { writeAtomically } from '../fs/safe-fs';
import type { BatchReport } from './runner';

/** report.json in the job's folder (the output folder, unless the job keeps its journal elsewhere). */
export function reportPath(dir: string): string {
  return join(dir, 'report.json');
}

/** Writes DIR/report.json, atomically and never through a link, so a reader never sees half a report. */
export async function writeReport(outDir: string, report: BatchReport): Promise<string> {
  const path = reportPath(outDir);
  await writeAtomically(outDir, path, `${JSON.stringify(report, null, 2)}\n`).catch(batchFilesFailure(outDir));
  return path;
}
