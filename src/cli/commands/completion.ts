import { Argument, type Command } from 'commander';
import { completionScript, completionShells, type CompletionShell } from '../completion-script.js';
import type { CommandRegistration } from './command-registration.js';

export const completionCommand: CommandRegistration = (program) => {
  program
    .command('completion')
    .description('print a shell completion script for bash, zsh or fish, generated from the command tree')
    .addArgument(new Argument('<shell>', 'the shell').choices(completionShells))
    .addHelpText(
      'after',
      `
Examples:
  source <(prescient completion bash)                          # this bash session
  prescient completion bash > /etc/bash_completion.d/prescient # every bash session
  prescient completion zsh > "\${fpath[1]}/_prescient"          # zsh (then: compinit)
  prescient completion fish > ~/.config/fish/completions/prescient.fish`,
    )
    .action((shell: CompletionShell, _opts: unknown, cmd: Command) => {
      let root = cmd;
      while (root.parent) root = root.parent;
      process.stdout.write(completionScript(root, shell));
    });
};
