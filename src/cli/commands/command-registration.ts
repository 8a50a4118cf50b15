import type { Command } from 'commander';

/** One command: it adds itself to the program (commands/index.ts lists them all). */
export type CommandRegistration = (program: Command) => void;
