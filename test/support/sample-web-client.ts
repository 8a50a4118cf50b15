import type { SampleClient } from '../../src/demo/sample-telemetry.js';

/** The launch chains every sample web client replays: what makes nginx and curl predicted for it. */
export const webChains: readonly string[][] = [['nginx', 'curl', 'tail'], ['curl', 'nginx']];

/**
 * A made-up web client for the end-to-end tests (beside the demo's `sampleClients`, which the
 * quickstart owns): nginx and curl in its launches, port 80 open, a small machine at work by
 * day. A test names its id and only what its story needs different.
 */
export function sampleWebClient(input: Pick<SampleClient, 'id'> & Partial<SampleClient>): SampleClient {
  return { category: 'web', cores: 2, memoryGiB: 4, cpu: { idle: 10, peak: 50 }, memoryPercent: 40, hours: [8, 18], chains: webChains.map((c) => [...c]), listens: [80], reaches: [], ...input };
}
