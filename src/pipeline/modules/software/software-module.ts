import { z } from 'zod';
import { debianPackageNamePattern } from '../../../contracts/usage-vector.js';
import { imageCarries } from '../../../usage-vector/image-software.js';
import { defineModule } from '../../define-module.js';
import { inclusionThresholdSchema } from '../inclusion-threshold.js';

/**
 * The packages layer, the bottom of the stack (it changes least and costs most): the packages
 * the image carries by `imageCarries` (the software set chosen for the image, else those
 * predicted with enough probability) and those later modules declare they need
 * (`packages` hooks: service daemons, nftables), not already in the image, installed with the
 * guest's own package manager in one apt run.
 */
export const softwareOptionsSchema = z
  .strictObject({
    threshold: inclusionThresholdSchema('install packages predicted at least this likely (packages of the software set chosen for the image are installed whatever their probability)'),
    exclude: z.array(z.string().regex(debianPackageNamePattern)).default([]).describe('never install these'),
  })
  // Parsed through the fields: each default is its field's.
  .prefault({});

export type SoftwareOptions = z.infer<typeof softwareOptionsSchema>;

export const softwareModule = defineModule<SoftwareOptions>({
  id: 'software',
  version: 2,
  description: 'installs the predicted packages with the guest package manager',
  optionsSchema: softwareOptionsSchema,
  plan({ vector, facts, options, requiredPackages }) {
    const installed = new Set(facts.packages.map((p) => p.name));
    const wanted = vector.software.filter((s) => imageCarries(s, options.threshold) && !options.exclude.includes(s.name));
    const packages = [...new Set([...wanted.map((s) => s.name), ...requiredPackages])].filter((n) => !installed.has(n)).sort();
    const skipped = vector.software.filter((s) => !imageCarries(s, options.threshold)).map((s) => `${s.name} (${s.probability})`);
    const notes = skipped.length ? [`below the ${options.threshold} threshold: ${skipped.join(', ')}`] : [];
    return { changes: packages.length ? [{ kind: 'install-packages', packages }] : [], notes };
  },
});
