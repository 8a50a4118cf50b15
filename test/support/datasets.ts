import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo.js';
import { readRequestLog, type RequestLog, type RequestStreamFormat } from '../../src/predict/request-timing/request-streams.js';

/**
 * Where the public traces live for tests and benchmarks: `../shared/datasets` beside the
 * repository (never committed). Resolved from this file, not the working directory, so a test or
 * bench started from anywhere finds them.
 */
export const datasetsDir = join(repoRoot, '..', 'shared', 'datasets');

/** One shipped trace, by its folder (and file) under datasetsDir. */
export const datasetPath = (...parts: string[]): string => join(datasetsDir, ...parts);

/**
 * The real per-user request streams of issue 19 and their formats: Borg and NASA (the development
 * streams), then the Alibaba GenAI LoRA requests (scored once, pre-registered, before being added
 * here: docs/prediction.md, "A stream never seen").
 */
export const requestStreamFiles: readonly { path: string; format: RequestStreamFormat }[] = [
  { path: datasetPath('google-2011-submits', 'submits.csv.gz'), format: 'google-submits' },
  { path: datasetPath('pwa-nasa-ipsc', 'NASA-iPSC-1993-3.1-cln.swf.gz'), format: 'swf' },
  { path: datasetPath('alibaba-genai-lora', 'lora_request_trace.csv'), format: 'lora' },
];

/** Each request stream that is on this machine, read; one that is absent is said on stdout and skipped (the benchmarks' loop). */
export async function* requestLogsPresent(): AsyncGenerator<{ path: string; format: RequestStreamFormat; log: RequestLog }> {
  for (const { path, format } of requestStreamFiles) {
    if (!existsSync(path)) {
      console.log(`${format}: skipped, ${path} is absent (the shared datasets)`);
      continue;
    }
    yield { path, format, log: await readRequestLog(path, format) };
  }
}
