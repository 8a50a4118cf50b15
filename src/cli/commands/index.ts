import type { Command } from 'commander';
import { imagesCommand } from './images.js';
import { pullCommand } from './pull.js';
import { pushCommand } from './push.js';
import { registryCommand } from './registry.js';
import { serveCommand } from './serve.js';

/**
 * Every CLI command, one file each under this folder. A command is a function that adds
 * itself to the program; adding a command is one new file and one line here.
 */
export type CommandRegistration = (program: Command) => void;

export const commands: readonly CommandRegistration[] = [
  imagesCommand,
  registryCommand,
  pushCommand,
  pullCommand,
  serveCommand,
];
