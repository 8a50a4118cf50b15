import type { Command, Option } from 'commander';

/**
 * Commander checks required options before unknown ones, so `ingest x --formt ndjson` said
 * "required option '--format' not specified" and never named the misspelt flag nor suggested
 * --format. Here every required option is checked in a preAction hook instead: after commander
 * has refused unknown flags (with its suggestion) and missing arguments, with the same message.
 */
export function checkRequiredOptionsLast(program: Command): void {
  const required = new Map<Command, Option[]>();
  const visit = (cmd: Command): void => {
    const own = cmd.options.filter((o) => o.mandatory);
    for (const o of own) o.mandatory = false;
    if (own.length) required.set(cmd, own);
    cmd.commands.forEach(visit);
  };
  visit(program);
  program.hook('preAction', (_program, action) => {
    for (const o of required.get(action) ?? []) {
      if (action.getOptionValue(o.attributeName()) === undefined) {
        action.error(`error: required option '${o.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
      }
    }
  });
}
