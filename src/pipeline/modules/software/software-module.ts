import { z } from 'zod';
import { debianPackageNamePattern } from '../../../usage-vector/schema.js';
import { defineModule } from '../../define-module.js';

/**
 * Software pre-installation: the packages the vector predicts with enough probability, and not
 * already in the image, installed with the guest's own package manager.
 */
export const softwareOptionsSchema = z
  .strictObject({
    threshold: z.number().min(0).max(1).default(0.5).describe('install packages predicted at least this likely'),
    exclude: z.array(z.string().regex(debianPackageNamePattern)).default([]).describe('never install these'),
  })
  .default({ threshold: 0.5, exclude: [] });

export type SoftwareOptions = z.infer<typeof softwareOptionsSchema>;

export const softwareModule = defineModule<SoftwareOptions>({
  id: 'software',
  version: 1,
  description: 'installs the predicted packages with the guest package manager',
  optionsSchema: softwareOptionsSchema,
  plan({ vector, facts, options }) {
    const installed = new Set(facts.packages.map((p) => p.name));
    const wanted = vector.software.filter((s) => s.probability >= options.threshold && !options.exclude.includes(s.name));
    const packages = [...new Set(wanted.map((s) => s.name))].filter((n) => !installed.has(n)).sort();
    const skipped = vector.software.filter((s) => s.probability < options.threshold).map((s) => `${s.name} (${s.probability})`);
    const notes = skipped.length ? [`below the ${options.threshold} threshold: ${skipped.join(', ')}`] : [];
    return { changes: packages.length ? [{ kind: 'install-packages', packages }] : [], notes };
  },
});
