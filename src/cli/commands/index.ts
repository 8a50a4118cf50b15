import type { CommandRegistration } from './command-registration.js';
import { baseCommand } from './base.js';
import { imageCommand } from './image.js';
import { personalizeCommand } from './personalize.js';
import { verifyCommand } from './verify.js';
import { registerEval } from './eval.js';
import { registerPredict } from './predict.js';
import { registerTrain } from './train.js';
import { registerVector } from './vector.js';
import { imagesCommand } from './images.js';
import { layersCommand } from './layers.js';
import { pullCommand } from './pull.js';
import { pushCommand } from './push.js';
import { registryCommand } from './registry.js';
import { consentCommand } from './consent.js';
import { ingestCommand } from './ingest.js';
import { keysCommand } from './keys.js';
import { sshKeysCommand } from './ssh-keys.js';
import { seedCommand } from './seed.js';
import { scrapeCommand } from './scrape.js';
import { serveCommand } from './serve.js';
import { credentialsCommand } from './credentials.js';
import { prepareCommand } from './prepare.js';
import { sampleTelemetryCommand } from './sample-telemetry.js';
import { policyCommand } from './policy.js';
import { datasetsCommand } from './datasets.js';
import { completionCommand } from './completion.js';
import { accuracyCommand } from './accuracy.js';
import { workerCommand } from './worker.js';
import { buildsCommand } from './builds.js';

/**
 * Every CLI command, one file each under this folder. A command is a function that adds
 * itself to the program; adding a command is one new file and one line here.
 */

export const commands: readonly CommandRegistration[] = [
  baseCommand,
  imageCommand,
  personalizeCommand,
  verifyCommand,
  registerVector,
  imagesCommand,
  layersCommand,
  registryCommand,
  pushCommand,
  pullCommand,
  serveCommand,
  registerEval,
  registerTrain,
  registerPredict,
  prepareCommand,
  sampleTelemetryCommand,
  ingestCommand,
  scrapeCommand,
  consentCommand,
  keysCommand,
  sshKeysCommand,
  seedCommand,
  credentialsCommand,
  policyCommand,
  datasetsCommand,
  completionCommand,
  accuracyCommand,
  workerCommand,
  buildsCommand,
];
