import { resourceFields } from './telemetry-event.js';
import type { EventSource, Subject, SubjectKind } from './telemetry-event.js';

/**
 * Many resource samples of ONE subject, column-wise: the shape bulk imports move in. A trace
 * file is one VM's month; as objects its 8,000 samples cost 8,000 allocations on every hop
 * (worker → main thread → store), as two Float64Arrays they cost two and cross a worker
 * boundary without copying. Same meaning as that many ResourceSamples with the same subject,
 * source and category.
 */
export interface ResourceColumns {
  subject: Subject;
  source: EventSource;
  category?: string | undefined;
  /** Number of samples. */
  rows: number;
  /** Epoch ms per sample. */
  time: Float64Array;
  /** rows × resourceFields.length, row-major in resourceFields order; NaN = field absent. */
  values: Float64Array;
  /** Where sample i came from (for reports), e.g. `file.csv:41`. */
  positionOf?: ((i: number) => string) | undefined;
}

/**
 * After anonymisation, and possibly of several subjects (HTTP batches mix VMs): `subjects` is
 * the table of pseudonyms, `subjectOf[i]` the entry of sample i (absent: all are subjects[0]).
 * `category` is the subject's latest in the batch, as when the samples are written as events.
 */
export interface AnonymisedResourceColumns {
  source: EventSource;
  subjects: readonly ColumnSubject[];
  subjectOf?: Int32Array | undefined;
  rows: number;
  time: Float64Array;
  values: Float64Array;
}

export interface ColumnSubject {
  /** Pseudonym. */
  subject: string;
  subjectKind: SubjectKind;
  category?: string | undefined;
  /** Pseudonyms under older keys (agent data only, after a rotation); never stored. */
  aliases?: readonly string[] | undefined;
  /** The image version digest these samples were taken in (agent data); one entry per subject and image. */
  image?: string | undefined;
}

/** Values per sample in `values`. */
export const resourceWidth = resourceFields.length;
