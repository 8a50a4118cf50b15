import { debianPackageNamePattern, type UsageVector } from '../contracts/usage-vector.js';
import type { GuestUse } from './history.js';
import { serviceForPackage } from './service-catalog.js';

/** In-guest data must cover this long before a package's absence of use counts against it. */
export const minObservedMsForUnused = 60 * 60 * 1000;
/** A package the client installed by hand: it will need it again. */
export const installedByHandProbability = 0.9;
/** What a predicted package never used keeps of its probability, per prediction. */
export const unusedFactor = 0.5;

/**
 * The client's in-guest history feeds its next prediction: a package it installed by hand after
 * delivery is in the next vector; a predicted package none of whose programs ran and whose
 * service's ports got no connection, over at least an hour of in-guest data, loses half its
 * probability and leaves the image set (so it drops below the software module's threshold after
 * a version or two unused).
 * What the vector may finally hold is still bounded by the admin policy (the workflow confines it).
 */
export function applyGuestUse(software: UsageVector['software'], use: GuestUse): { software: UsageVector['software']; notes: string[] } {
  const notes: string[] = [];
  const installed = new Set(use.installedPackages.filter((p) => debianPackageNamePattern.test(p) && p.length <= 128));
  const launched = new Set(use.launchedPrograms);
  const busy = new Set(use.busyPorts);
  const out = software.map((s) => {
    if (installed.has(s.name)) return { ...s, probability: Math.max(s.probability, installedByHandProbability) };
    if (use.observedMs < minObservedMsForUnused) return s;
    const service = serviceForPackage(s.name);
    const used =
      [s.name, ...(s.programs ?? []), ...(service ? [service.service] : [])].some((p) => launched.has(p)) || (service?.ports ?? []).some((p) => busy.has(p.port));
    if (used) return s;
    notes.push(`${s.name}: predicted, never used in the guest`);
    // Out of the image set too: otherwise the image would carry it whatever its probability.
    const { inImageSet: _, ...rest } = s;
    return { ...rest, probability: Math.round(s.probability * unusedFactor * 1000) / 1000 };
  });
  for (const p of [...installed].sort()) {
    if (out.some((s) => s.name === p)) continue;
    out.push({ name: p, probability: installedByHandProbability, programs: [] });
    notes.push(`${p}: installed by hand in the guest`);
  }
  return { software: out.sort((a, b) => b.probability - a.probability || a.name.localeCompare(b.name)), notes };
}
