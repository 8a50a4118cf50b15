#!/bin/sh
# Prescient in-guest agent, the part that needs root (ExecStartPre=+, once when the collector
# starts, not at every report): the per-port SYN counters, the not-found log bash writes to, the
# dataset read marks. Each step is idempotent: nftables.service flushes the whole ruleset when it
# (re)starts, and prescient-agent-counters.service (PartOf it) puts the agent's table back.
# `prepare counters` (prescient-agent-counters.service, before the network comes up) makes only
# the counters, so the first connections count too. `prepare build` runs once when the image is
# made: what happens from the first boot on, before the agent's first report, must count as
# after delivery.
set -u
mode=${1:-run}
state=${PRESCIENT_AGENT_STATE:-/var/lib/prescient-agent}
user=${PRESCIENT_AGENT_USER:-prescient-agent}
datasets=${PRESCIENT_AGENT_DATASETS:-/var/lib/prescient/datasets.json}
pacct=${PRESCIENT_AGENT_PACCT:-/var/log/account/pacct}
mkdir -p "$state"

# PRESCIENT_AGENT_NFT=off: tests run this in a chroot that shares the host's network namespace.
# Before the firewall (priority filter - 150, counters.nft): a SYN the firewall drops was still
# attempted.
if [ "$mode" != build ] && [ "${PRESCIENT_AGENT_NFT:-on}" != off ] && command -v nft >/dev/null && ! nft list table inet prescient_agent >/dev/null 2>&1; then
  # A new set counts from 0: the collector's values of the last report no longer apply.
  rm -f "$state/syn.last"
  nft -f "${PRESCIENT_AGENT_COUNTERS_NFT:-/usr/lib/prescient-agent/counters.nft}" || echo "prescient-agent: no per-port connection counters (nft failed)" >&2
fi
# prescient-agent-counters.service, before the network: the counters only.
[ "$mode" = counters ] && exit 0

# Bash's command_not_found_handle appends here: anyone may write, nobody but the agent may read.
[ -e "$state/not-found.log" ] || : >"$state/not-found.log"
chown "$user" "$state" "$state/not-found.log" && chmod 0622 "$state/not-found.log"
chmod 0711 "$state"

# What dpkg.log holds when the image is made is not "installed after delivery"; accounting
# starts at boot, so all of it counts.
if [ "$mode" = build ]; then
  stat -c %s /var/log/dpkg.log >"$state/dpkg.offset" 2>/dev/null || echo 0 >"$state/dpkg.offset"
  echo 0 >"$state/pacct.offset"
  chown "$user" "$state/dpkg.offset" "$state/pacct.offset"
fi

# Process accounting is read by the adm group (the agent's supplementary group).
[ -e "$pacct" ] && chgrp adm "$pacct" && chmod 0640 "$pacct"

# Dataset reads show as an access time after the mark: every placed dataset's atime is set far
# back once, so that the next read moves it (relatime updates an atime older than mtime).
if [ -r "$datasets" ] && [ ! -e "$state/datasets.armed" ]; then
  grep -o '"destination": *"[^"]*"' "$datasets" | sed 's/.*"\([^"]*\)"$/\1/' | while read -r path; do
    [ -f "$path" ] && touch -a -d @86400 "$path"
  done
  date +%s >"$state/datasets.armed"
  chown "$user" "$state/datasets.armed"
fi
exit 0
