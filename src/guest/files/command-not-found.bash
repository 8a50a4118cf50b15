# Prescient in-guest agent (opt-in): remember the name of a command that was not found, never
# its arguments, for the agent's next report. Then say what bash would have said.
command_not_found_handle() {
  local log=/var/lib/prescient-agent/not-found.log
  if [ -w "$log" ] && [ "$(stat -c %s "$log" 2>/dev/null || echo 65536)" -lt 65536 ]; then
    printf '%s\n' "${1##*/}" >>"$log" 2>/dev/null
  fi
  if [ -x /usr/lib/command-not-found ]; then
    /usr/lib/command-not-found -- "$1"
    return $?
  fi
  printf 'bash: %s: command not found\n' "$1" >&2
  return 127
}
