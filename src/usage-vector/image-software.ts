import type { UsageVectorSoftware } from '../contracts/usage-vector.js';

/**
 * The one rule for which predicted packages an image carries: those the software-set predictor
 * chose for the image (`inImageSet`: it weighed each package's expected use over the horizon
 * against its bytes, so a cheap package it chose with low odds is meant to be there), and any
 * other predicted at least `threshold` likely. The software module installs by it; what a booted
 * image is checked for follows it too.
 */
export function imageCarries(software: UsageVectorSoftware, threshold: number): boolean {
  return software.inImageSet === true || software.probability >= threshold;
}
