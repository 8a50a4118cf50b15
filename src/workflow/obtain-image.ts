import type { Digest } from '../core/digest.js';
import { isServerSide, toAppError } from '../core/errors.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import type { BuildFlights } from './build-flights.js';
import type { BuildInput } from './image-builder.js';
import type { LatestImage } from './latest-image.js';
import type { ImageSource } from './request-outcomes.js';
import type { SharedRegistry } from './request-workflow-deps.js';
import type { VersionMemo } from './version-memo.js';
import type { WorkflowEvent } from './workflow-event.js';

export interface ObtainImageInput {
  clientId: string;
  /** What to build when nothing registered answers; its plan digest and base key are what a prebuilt image must match. */
  build: Omit<BuildInput, 'signal' | 'onEvent'>;
  versions: VersionMemo;
  flights: BuildFlights;
  shared?: SharedRegistry | undefined;
  emit: (e: WorkflowEvent) => void;
  signal?: AbortSignal | undefined;
}

export interface ObtainedImage {
  source: ImageSource;
  image: { digest: Digest; version?: number; tags: string[] };
  vmSpec: VmSpec | undefined;
  /** Set when source is `last-good`: why the predicted image could not be built. */
  /** serverSide (isServerSide): its message is for the operator's log, not for the client. */
  buildError?: { code: string; message: string; serverSide?: true };
}

/**
 * The image step: the repository's `latest` when it was built for this plan on this base
 * (registered here, or brought from the shared registry) — `prebuilt`; else one build of the
 * plan however many ask — `built`, or `joined`; else, the build having failed, the client's last
 * good version — `last-good`, with the error — or the error itself.
 */
export async function obtainImage(input: ObtainImageInput): Promise<ObtainedImage> {
  const { build, versions, emit } = input;
  const { repository } = build;
  const answers = (p: LatestImage | undefined): boolean => !!p && p.planDigest === build.planDigest && p.baseKey === build.base.key;
  let prebuilt = await versions.latest(repository);
  if (!answers(prebuilt) && input.shared) {
    await input.shared.syncLatest(repository, input.signal);
    prebuilt = await versions.latest(repository);
  }
  if (prebuilt && answers(prebuilt)) {
    emit({ type: 'build', state: 'prebuilt' });
    return { source: 'prebuilt', image: prebuilt, vmSpec: prebuilt.vmSpec };
  }
  try {
    const flight = await input.flights.run({ clientId: input.clientId, build, emit });
    if (flight.shared) emit({ type: 'build', state: 'joined' });
    return { source: flight.shared ? 'joined' : 'built', image: flight.value, vmSpec: flight.value.spec };
  } catch (e) {
    const err = toAppError(e);
    const serverSide = isServerSide(err) ? { serverSide: true as const } : {};
    emit({ type: 'build', state: 'failed', message: err.message, ...serverSide });
    // The build may have failed after another one registered: re-read, and never hand out a half-made image.
    const lastGood = await versions.latest(repository);
    if (!lastGood) throw err;
    return { source: 'last-good', image: lastGood, vmSpec: lastGood.vmSpec, buildError: { code: err.code, message: err.message, ...serverSide } };
  }
}
