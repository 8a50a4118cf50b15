import { toAppError, type AppError } from '../core/errors.js';
import { versionProvenance, type VersionProvenance } from '../pipeline/spec/version-seed.js';
import type { Registry } from '../registry/registry.js';
import { imageProvenance, latestImage, type ImageProvenance, type LatestImage } from './latest-image.js';

/** Versions the memo keeps before it starts again (a bound on memory, not an eviction policy). */
const memoLimit = 4096;

/**
 * What one read of a registered version (`repository@digest`) tells: what it was built for (is
 * it a prebuilt hit?) and what its seeds are made of, or why it cannot make one (not a Prescient
 * version). Both come from the same manifest and config, which never change for a digest.
 */
interface VersionFacts {
  image: ImageProvenance;
  seed: VersionProvenance | AppError;
}

/**
 * Registered versions read from the registry once per `repository@digest`: a version's config
 * (with ~200 base packages) was the largest read of a prebuilt hit, and the check for a hit and
 * the seed read the same version (after a build, the next request's check finds what the seed
 * read). A read that fails (a version only in the shared registry yet) is not kept.
 */
export class VersionMemo {
  readonly #versions = new Map<string, VersionFacts>();

  constructor(private readonly registry: Registry) {}

  /** The repository's `latest` with what it was built for; only its tag list is read again. */
  latest(repository: string): Promise<LatestImage | undefined> {
    return latestImage(this.registry, repository, async (reference) => (await this.#version(reference)).image);
  }

  /** A version's plan, base facts and subject (what a seed is made of). */
  async seedProvenance(reference: string): Promise<VersionProvenance> {
    const { seed } = await this.#version(reference);
    if (seed instanceof Error) throw seed;
    return seed;
  }

  async #version(reference: string): Promise<VersionFacts> {
    const known = this.#versions.get(reference);
    if (known) return known;
    const shown = await this.registry.show(reference);
    let seed: VersionFacts['seed'];
    try {
      seed = versionProvenance(shown, reference);
    } catch (e) {
      seed = toAppError(e);
    }
    const facts = { image: imageProvenance(shown), seed };
    if (this.#versions.size >= memoLimit) this.#versions.clear();
    this.#versions.set(reference, facts);
    return facts;
  }
}
