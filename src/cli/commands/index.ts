import type { Command } from 'commander';
import { consentCommand } from './consent.js';
import { ingestCommand } from './ingest.js';
import { keysCommand } from './keys.js';
import { scrapeCommand } from './scrape.js';
import { serveCommand } from './serve.js';

/**
 * Every CLI command, one file each under this folder. A command is a function that adds
 * itself to the program; adding a command is one new file and one line here.
 */
export type CommandRegistration = (program: Command) => void;

export const commands: readonly CommandRegistration[] = [
  ingestCommand,
  scrapeCommand,
  consentCommand,
  keysCommand,
  serveCommand,
];
