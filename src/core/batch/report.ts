import { join } from 'node:path';
import { writeAtomically } from './output';
import type { BatchReport } from './runner';

/** Writes DIR/report.json, atomically, so a reader never sees half a report. */
export async function writeReport(outDir: string, report: BatchReport): Promise<string> {
  const path = join(outDir, 'report.json');
  await writeAtomically(outDir, path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
