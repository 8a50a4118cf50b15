/** Annotation keys Prescient puts on manifests and on index.json descriptors. */
export const annotations = {
  refName: 'org.opencontainers.image.ref.name',
  created: 'org.opencontainers.image.created',
  /** index.json: which repository (client) a descriptor belongs to. */
  repository: 'io.prescient.repository',
  /** index.json: the descriptor keeps an untagged manifest (pushed by digest, a referrer). */
  retained: 'io.prescient.retained',
  /** manifest: the version this one was built after (lineage). */
  parent: 'io.prescient.parent',
  /** manifest: digest of the base layer (lineage), set by the registry. */
  base: 'io.prescient.base',
  /** manifest: the name of the base image the layers were built on ("debian-12"), set by the builder. */
  baseName: 'io.prescient.base-name',
  /** manifest: which vector (canonical JSON digest) the image was built for. */
  vectorDigest: 'io.prescient.vector-digest',
  /** manifest: which base recipe key it was built on, so a rebuilt base is never answered with an image of the old one. */
  baseKey: 'io.prescient.base-key',
  /**
   * manifest: the digest of the pipeline's plan for the vector: what the image holds. Two vectors
   * with the same plan make the same image, so this — not the vector digest — decides whether a
   * registered image still answers a request. A new model or new data that moves a forecast
   * without changing a module's decision (vCPUs are whole, memory comes in 256 MiB steps, a
   * package is in or out of the threshold) therefore costs no rebuild; one that changes a
   * decision does.
   */
  planDigest: 'io.prescient.plan-digest',
  /** export: the digest of the flat qcow2 a containerDisk was made from. */
  source: 'io.prescient.source',
} as const;
