import type { Command, Option } from 'commander';

export const completionShells = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof completionShells)[number];

interface Node {
  /** Command names from the root, e.g. ['images', 'ls']. */
  path: string[];
  description: string;
  subcommands: string[];
  options: { flags: string[]; description: string; choices?: readonly string[]; takesValue: boolean }[];
  /** The choices of each positional argument that has them, by position (`completion <shell>`). */
  argumentChoices: (readonly string[] | undefined)[];
}

/**
 * The command tree as the completion scripts need it, read from commander itself, so a new
 * command or flag is completed without touching this file. Global options (--json, --quiet…)
 * are offered at every level, as commander accepts them there.
 */
function walk(program: Command): Node[] {
  const globals = program.options;
  const out: Node[] = [];
  const visit = (cmd: Command, path: string[]): void => {
    const own = path.length === 0 ? cmd.options : [...cmd.options, ...globals];
    out.push({
      path,
      description: cmd.description().split('\n')[0] ?? '',
      subcommands: cmd.commands.map((c) => c.name()).filter((n) => n !== 'help'),
      options: own.map((o: Option) => ({
        flags: [o.long, o.short].filter((f): f is string => !!f),
        description: o.description,
        ...(o.argChoices ? { choices: o.argChoices } : {}),
        takesValue: o.required || o.optional,
      })).concat([{ flags: ['--help', '-h'], description: 'display help', takesValue: false }]),
      argumentChoices: cmd.registeredArguments.map((a) => a.argChoices),
    });
    for (const sub of cmd.commands) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  return out;
}

/** A node's key in the scripts' tables; the scripts sanitise each word the same way (ssh-keys → ssh_keys). */
const key = (path: string[]): string => ['_', ...path].join('_').replace(/[^A-Za-z0-9_]/g, '_');
const quoteSh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(name: string, nodes: Node[]): string {
  const fn = `_${name.replace(/\W/g, '_')}_complete`;
  const assoc = (label: string, entries: [string, string][]): string =>
    `declare -gA ${fn}_${label}=(\n${entries.map(([k, v]) => `  [${k}]=${quoteSh(v)}`).join('\n')}\n)`;
  const choices: [string, string][] = nodes.flatMap((n) => n.options.flatMap((o) => (o.choices ? o.flags.map((f): [string, string] => [`${key(n.path)}${f.replace(/-/g, '_')}`, o.choices!.join(' ')]) : [])));
  const valued: [string, string][] = nodes.map((n) => [key(n.path), n.options.filter((o) => o.takesValue).flatMap((o) => o.flags).join(' ')]);
  const args: [string, string][] = nodes.flatMap((n) => n.argumentChoices.flatMap((c, i): [string, string][] => (c ? [[`${key(n.path)}_${i}`, c.join(' ')]] : [])));
  return `# bash completion for ${name}, generated from its command tree: ${name} completion bash
# Load it now:      source <(${name} completion bash)
# Or for good:      ${name} completion bash > /etc/bash_completion.d/${name}
${assoc('subs', nodes.map((n) => [key(n.path), n.subcommands.join(' ')]))}
${assoc('opts', nodes.map((n) => [key(n.path), n.options.flatMap((o) => o.flags).join(' ')]))}
${assoc('valued', valued)}
${assoc('choices', choices.length ? choices : [['__none', '']])}
${assoc('args', args.length ? args : [['__none', '']])}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cpath=_ w i npos=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    if [[ " \${${fn}_subs[$cpath]} " == *" $w "* ]]; then cpath="\${cpath}_\${w//[^A-Za-z0-9_]/_}"; npos=0
    elif [[ " \${${fn}_valued[$cpath]} " != *" \${COMP_WORDS[i-1]} "* ]]; then ((npos++)); fi
  done
  local ck="\${cpath}\${prev//-/_}"
  if [[ -n "\${${fn}_choices[$ck]+x}" ]]; then
    COMPREPLY=($(compgen -W "\${${fn}_choices[$ck]}" -- "$cur")); return
  fi
  if [[ "$prev" == -* && " \${${fn}_valued[$cpath]} " == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur")); return
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "\${${fn}_opts[$cpath]}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "\${${fn}_subs[$cpath]}" -- "$cur"))
    if ((\${#COMPREPLY[@]} == 0)) && [[ -n "\${${fn}_args[\${cpath}_$npos]+x}" ]]; then
      COMPREPLY=($(compgen -W "\${${fn}_args[\${cpath}_$npos]}" -- "$cur")); return
    fi
    ((\${#COMPREPLY[@]} == 0)) && COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F ${fn} ${name}
`;
}

function zsh(name: string, nodes: Node[]): string {
  const fn = `_${name.replace(/\W/g, '_')}`;
  const pairs = (f: (n: Node) => string): string => nodes.map((n) => `  ${key(n.path)} ${quoteSh(f(n))}`).join('\n');
  return `#compdef ${name}
# zsh completion for ${name}, generated from its command tree: ${name} completion zsh
# Load it now:      source <(${name} completion zsh)
# Or for good:      ${name} completion zsh > "\${fpath[1]}/_${name}"
typeset -gA ${fn}_subs ${fn}_opts
${fn}_subs=(
${pairs((n) => n.subcommands.join(' '))}
)
${fn}_opts=(
${pairs((n) => n.options.flatMap((o) => o.flags).join(' '))}
)
${fn}() {
  local cpath=_ w i
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    if [[ " \${${fn}_subs[$cpath]} " == *" $w "* ]]; then cpath=\${cpath}_\${w//[^A-Za-z0-9_]/_}; fi
  done
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- \${=${fn}_opts[$cpath]}
  else
    local -a subs; subs=(\${=${fn}_subs[$cpath]})
    if (( \${#subs} )); then compadd -- $subs; else _files; fi
  fi
}
if (( $+functions[compdef] )); then compdef ${fn} ${name}; fi
`;
}

function fish(name: string, nodes: Node[]): string {
  const q = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = [`# fish completion for ${name}, generated from its command tree: ${name} completion fish`, `# Load it now:      ${name} completion fish | source`, `# Or for good:      ${name} completion fish > ~/.config/fish/completions/${name}.fish`];
  for (const n of nodes) {
    // Inside `images ls`, `ls` alone is ambiguous (base ls, consent ls…): require the whole path.
    const seen = n.path.map((p) => `__fish_seen_subcommand_from ${p}`).join('; and ');
    const here = n.path.length === 0 ? '' : seen;
    const noSub = n.subcommands.length ? `not __fish_seen_subcommand_from ${n.subcommands.join(' ')}` : '';
    const cond = n.path.length === 0 ? '__fish_use_subcommand' : [here, noSub].filter(Boolean).join('; and ');
    for (const sub of n.subcommands) {
      const child = nodes.find((c) => c.path.length === n.path.length + 1 && c.path.at(-1) === sub && c.path.slice(0, -1).join(' ') === n.path.join(' '));
      lines.push(`complete -c ${name} -n ${q(cond)} -a ${sub} -d ${q(child?.description ?? '')}`);
    }
    for (const o of n.options) {
      const long = o.flags.find((f) => f.startsWith('--'));
      const short = o.flags.find((f) => /^-[^-]$/.test(f));
      const parts = [`complete -c ${name}`];
      if (here) parts.push(`-n ${q(here)}`);
      if (long) parts.push(`-l ${long.slice(2)}`);
      if (short) parts.push(`-s ${short.slice(1)}`);
      if (o.takesValue) parts.push('-r');
      if (o.choices) parts.push(`-xa ${q(o.choices.join(' '))}`);
      parts.push(`-d ${q(o.description)}`);
      lines.push(parts.join(' '));
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(program: Command, shell: CompletionShell): string {
  const nodes = walk(program);
  const name = program.name();
  return shell === 'bash' ? bash(name, nodes) : shell === 'zsh' ? zsh(name, nodes) : fish(name, nodes);
}
