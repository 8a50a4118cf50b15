import { z } from 'zod';
import { categorySchema } from './category.js';

/**
 * The UsageVector: what prediction expects a subject (a client, or a category of clients) to
 * need over the next horizon. It is the contract between prediction and the image pipeline and
 * is stored with every image version as provenance, so it is versioned and strict: an unknown
 * key is refused (a typo must not silently drop a requirement), and every rule is expressed in
 * a form that survives the export to JSON Schema (regex patterns rather than code refinements).
 */
export const usageVectorSchemaVersion = 'prescient.dev/usage-vector/v1' as const;

/** Debian policy §5.6.1: lower case, digits, + - . ; at least two characters; starts alphanumeric. */
export const debianPackageNamePattern = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * An absolute, normalised guest path: starts with `/`, no empty, `.` or `..` segment, no
 * trailing slash, no NUL. `../../etc` and `/srv/../etc` are refused, so a destination can never
 * leave the guest root by construction.
 */
export const guestPathPattern = /^(?:\/(?!\.\.?(?:\/|$))[^/\u0000]+)+$/;

/** A systemd-style service name: no spaces or shell metacharacters. */
export const serviceNamePattern = /^[A-Za-z0-9][A-Za-z0-9@_.:-]*$/;

/** A host name (RFC 1123 labels), an IPv4 address or CIDR, or an IPv6 address or CIDR. */
export const hostPattern =
  /^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?|\*\.(?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]+|(?:\d{1,3}\.){3}\d{1,3}(?:\/\d{1,2})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:\/\d{1,3})?)$/;

/** Identifiers of subjects and models: printable, no spaces, no path separators. */
const identifierPattern = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

const probability = z.number().min(0).max(1);
const nonNegative = z.number().nonnegative();
const port = z.number().int().min(1).max(65535);
const protocol = z.enum(['tcp', 'udp']);

export const subjectSchema = z
  .strictObject({
    clientId: z.string().regex(identifierPattern).optional().describe('pseudonymised client id'),
    category: categorySchema.optional().describe('category of clients'),
  })
  .refine((s) => s.clientId !== undefined || s.category !== undefined, {
    message: 'a subject needs a clientId, a category, or both',
  })
  .describe('who the prediction is for');

export const horizonSchema = z
  .strictObject({
    startsAt: z.iso.datetime({ offset: true }).describe('start of the predicted period (ISO 8601)'),
    hours: z.number().positive().max(24 * 366).describe('length of the predicted period in hours'),
  })
  .describe('the period the prediction covers');

export const modelRefSchema = z.strictObject({
  target: z.string().min(1).max(64).describe('what this model predicts: cpu, memory, software…'),
  id: z.string().regex(identifierPattern),
  version: z.string().regex(identifierPattern),
});

export const modelSchema = z
  .strictObject({
    id: z.string().regex(identifierPattern).describe('the predictor (or selector) that produced this vector'),
    version: z.string().regex(identifierPattern),
    components: z.array(modelRefSchema).optional().describe('the model chosen for each target'),
  })
  .describe('provenance of the prediction');

export const resourcesSchema = z
  .strictObject({
    vcpus: z.number().int().min(1).max(1024),
    memoryMiB: z.number().int().min(64),
    diskGiB: z.number().positive(),
    expectedP95CpuPercent: z.number().min(0).max(100).describe('p95 CPU over the horizon, % of the allocated vCPUs'),
    expectedP95MemoryMiB: nonNegative,
    diskReadKBps: nonNegative,
    diskWriteKBps: nonNegative,
    networkInKBps: nonNegative,
    networkOutKBps: nonNegative,
  })
  .describe('allocation and expected load');

export const softwareSchema = z.strictObject({
  name: z.string().regex(debianPackageNamePattern).max(128).describe('a package of the base image distribution'),
  probability,
  programs: z.array(z.string().regex(/^[A-Za-z0-9_+.:-]{1,128}$/)).optional().describe('the predicted programs it ships'),
  inImageSet: z
    .boolean()
    .optional()
    .describe('chosen by the software-set predictor for the image (for the horizon, within its byte budget): the image carries it whatever its probability'),
});

export const serviceSchema = z.strictObject({
  name: z.string().regex(serviceNamePattern).max(128),
  expectedLoad: z
    .strictObject({
      requestsPerSecond: nonNegative.optional(),
      connections: nonNegative.optional(),
    })
    .describe('expected load; at least one measure when known'),
  concurrency: z.number().int().min(1).describe('workers / connections to provision for'),
  ports: z.array(z.strictObject({ port, protocol })).optional(),
  probability: probability.optional(),
});

export const datasetSchema = z.strictObject({
  source: z.string().min(1).max(4096).regex(/^[^\u0000-\u001f]+$/).describe('where the data comes from (URL or host path)'),
  destination: z.string().max(4096).regex(guestPathPattern).describe('absolute, normalised path inside the guest'),
  sizeBytes: z.number().int().nonnegative(),
  probability,
});

export const networkSchema = z.strictObject({
  inbound: z.array(z.strictObject({ port, protocol })),
  outbound: z.array(
    z.strictObject({
      host: z.string().max(253).regex(hostPattern),
      port: port.optional(),
      protocol: protocol.optional(),
    }),
  ),
  proxy: z
    .strictObject({
      url: z.url({ protocol: /^(?:http|https|socks5h?)$/ }),
      noProxy: z.array(z.string().max(253).regex(hostPattern)).optional(),
    })
    .nullable()
    .describe('outbound proxy, or null for direct access'),
});

export const usageVectorSchema = z
  .strictObject({
    schemaVersion: z.literal(usageVectorSchemaVersion, {
      error: (issue) => `unknown schema version ${JSON.stringify(issue.input)}; expected "${usageVectorSchemaVersion}"`,
    }),
    subject: subjectSchema,
    horizon: horizonSchema,
    generatedAt: z.iso.datetime({ offset: true }),
    model: modelSchema,
    confidence: probability.describe('overall confidence of the prediction, 0–1'),
    resources: resourcesSchema,
    software: z.array(softwareSchema),
    services: z.array(serviceSchema),
    datasets: z.array(datasetSchema),
    network: networkSchema,
  })
  .describe('Prescient usage vector: the predicted needs of a client or a category over a horizon');

export type UsageVector = z.infer<typeof usageVectorSchema>;
export type UsageVectorResources = z.infer<typeof resourcesSchema>;
export type UsageVectorSoftware = z.infer<typeof softwareSchema>;
export type UsageVectorService = z.infer<typeof serviceSchema>;
export type UsageVectorDataset = z.infer<typeof datasetSchema>;
export type UsageVectorNetwork = z.infer<typeof networkSchema>;
