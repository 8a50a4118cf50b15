import type { Command } from 'commander';
import { registerEval } from './eval.js';
import { registerPredict } from './predict.js';
import { registerServe } from './serve.js';
import { registerTrain } from './train.js';
import { registerVector } from './vector.js';

/**
 * Every CLI command, one file each under this folder. A command is a function that adds
 * itself to the program; adding a command is one new file and one line here.
 */
export type CommandRegistration = (program: Command) => void;

export const commands: readonly CommandRegistration[] = [
  registerVector,
  registerEval,
  registerTrain,
  registerPredict,
  registerServe,
];
