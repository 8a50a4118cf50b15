/**
 * The media types Prescient writes. A personalised image version is an OCI image manifest
 * (the form every registry accepts, including distribution 2.x) whose `artifactType` and config
 * media type say "this is a Prescient image, not a container": its layers are qcow2 files, base
 * first, each overlay's backing file named by its parent layer's hex digest (see qcow2-chain.ts).
 */
export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociImageConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  /** What a containerDisk export writes: every container runtime KubeVirt runs on pulls it. */
  ociLayerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  /** artifactType of a version manifest. */
  prescientImage: 'application/vnd.prescient.image.v1+json',
  /** The config blob: provenance JSON (usage vector, plan, VM spec, base facts, model, timings). */
  prescientConfig: 'application/vnd.prescient.image.config.v1+json',
  /** One qcow2 layer: the base image or a module's overlay. */
  prescientLayer: 'application/vnd.prescient.image.layer.v1.qcow2',
} as const;

/** Manifest media types the registry stores and serves (anything else is MANIFEST_INVALID). */
export const manifestMediaTypes: readonly string[] = [
  mediaTypes.ociManifest,
  mediaTypes.ociIndex,
  mediaTypes.dockerManifest,
  mediaTypes.dockerManifestList,
];
