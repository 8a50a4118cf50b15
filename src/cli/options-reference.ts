import type { Command } from 'commander';

/**
 * Every command and flag as Markdown, read from the command tree itself: the flags part of
 * docs/configuration.md is this text (scripts/docs rewrites it, a test keeps it current), so
 * the reference cannot miss a flag the CLI has.
 */
export function optionsReference(program: Command): string {
  const out: string[] = [];
  const visit = (cmd: Command, path: string[]): void => {
    if (path.length > 0 && cmd.name() !== 'help') {
      const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`)).join(' ');
      out.push(`### \`prescient ${path.join(' ')}${args ? ` ${args}` : ''}\``, '', cmd.description().split('\n').join(' '), '');
      const opts = cmd.options.filter((o) => o.long !== '--help');
      if (opts.length) {
        out.push('| flag | meaning | default |', '|---|---|---|');
        for (const o of opts) {
          const def = o.defaultValue === undefined || o.negate ? '' : `\`${Array.isArray(o.defaultValue) ? o.defaultValue.join(',') : String(o.defaultValue)}\``;
          const choices = o.argChoices ? ` (one of ${o.argChoices.map((c) => `\`${c}\``).join(', ')})` : '';
          out.push(`| \`${o.flags.replace(/\|/g, '\\|')}\` | ${o.description.replace(/\|/g, '\\|').replace(/\n/g, ' ')}${choices} | ${def} |`);
        }
        out.push('');
      }
    }
    for (const sub of cmd.commands) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  return out.join('\n').trimEnd();
}
