import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultVector } from '../contracts/default-vector.js';
import { sha256Digest } from '../core/digest.js';
import { ExternalToolError } from '../core/errors.js';
import { debianFacts } from '../../test/support/debian-facts.js';
import { BuildFlights } from './build-flights.js';
import type { BuildInput, ImageBuilder } from './image-builder.js';
import type { WorkflowEvent } from './workflow-event.js';

/** Each build fails as a transient tool failure does, so every attempt ends in a back-off. */
const failingBuilder = (calls: BuildInput[]): ImageBuilder => ({
  planDigest: async () => sha256Digest('plan'),
  build: async (input) => {
    calls.push(input);
    throw new ExternalToolError('qemu-img', ['create'], 1, 'transient failure');
  },
});

const build = (clientId: string): Omit<BuildInput, 'signal' | 'onEvent'> => ({
  repository: `clients/${clientId}`,
  base: { name: 'debian-12', key: 'debian-12-test', path: '/nonexistent', facts: debianFacts([]) },
  vector: defaultVector({ subject: { clientId, category: 'general' }, horizon: { startsAt: '2026-12-01T00:00:00.000Z', hours: 168 }, generatedAt: '2026-12-01T00:00:00.000Z' }),
  vectorDigest: sha256Digest(clientId),
  planDigest: sha256Digest('plan'),
});

describe('BuildFlights', () => {
  // The back-off (a minute) outlasts the timeout: on code whose sleep ignores the cancel, this test fails by timing out.
  test('a cancel during the retry back-off ends the build as ABORTED at once, without another attempt', { timeout: 20_000 }, async () => {
    const calls: BuildInput[] = [];
    const flights = new BuildFlights({ builder: failingBuilder(calls), retry: { attempts: 3, baseDelayMs: 60_000 } });
    const events: WorkflowEvent[] = [];
    let backingOff!: () => void;
    const retrying = new Promise<void>((resolve) => (backingOff = resolve));
    const flight = flights.run({
      clientId: 'c1',
      build: build('c1'),
      emit: (e) => {
        events.push(e);
        if (e.type === 'build' && e.state === 'retrying') backingOff();
      },
    });
    flight.catch(() => undefined);
    await retrying;
    assert.equal(flights.cancel('c1'), 1);
    await assert.rejects(flight, (e: unknown) => (e as { code?: string }).code === 'ABORTED');
    assert.equal(calls.length, 1, 'no attempt after the cancel');
    assert.equal(flights.active.size, 0, 'a cancelled build is no longer active');
    assert.equal(flights.limiter.running, 0, 'its build slot is free');
    assert.deepEqual(
      events.filter((e) => e.type === 'build').map((e) => e.state),
      ['queued', 'started', 'retrying'],
    );
  });
});
