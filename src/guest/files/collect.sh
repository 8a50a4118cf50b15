#!/bin/bash
# Prescient in-guest agent: one report a minute (prescient-agent.timer runs this as the
# prescient-agent user). It samples /proc, reads what process accounting, dpkg.log, bash's
# command-not-found hook and the kernel's per-port SYN counters saw since the last run, writes
# one NDJSON file of TelemetryEvents to the spool, then sends every spooled file oldest first.
# Program names only, never arguments: process accounting keeps no arguments, and the hook
# records only the word that was not found.
set -u
umask 077
export LC_ALL=C

state=${PRESCIENT_AGENT_STATE:-/var/lib/prescient-agent}
spool=${PRESCIENT_AGENT_SPOOL:-$state/spool}
root=${PRESCIENT_AGENT_ROOT:-}   # tests point this at a fake /proc root; empty in a guest
max_files=${PRESCIENT_AGENT_MAX_FILES:-1440}      # a day of reports
max_kib=${PRESCIENT_AGENT_MAX_KIB:-8192}          # and never more than 8 MiB on disk
pacct=${PRESCIENT_AGENT_PACCT:-/var/log/account/pacct}
dpkglog=${PRESCIENT_AGENT_DPKG_LOG:-/var/log/dpkg.log}
datasets=${PRESCIENT_AGENT_DATASETS:-/var/lib/prescient/datasets.json}
cnf=$state/not-found.log

log() { echo "prescient-agent: $*" >&2; }

[ -e "$state/revoked" ] && { log "consent was revoked; not reporting"; exit 0; }
for v in PRESCIENT_URL PRESCIENT_SUBJECT PRESCIENT_IMAGE PRESCIENT_CREDENTIAL; do
  [ -n "${!v:-}" ] || { log "$v is not set (it comes from the seed, /etc/prescient/agent.env)"; exit 0; }
done
# What goes into JSON unquoted-checked here: the server validates again, but a report must never
# be malformed by its own seed.
[[ $PRESCIENT_SUBJECT =~ ^client:[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$ ]] || { log "PRESCIENT_SUBJECT is not client:ID"; exit 0; }
[[ $PRESCIENT_IMAGE =~ ^sha256:[0-9a-f]{64}$ ]] || { log "PRESCIENT_IMAGE is not a digest"; exit 0; }
[[ $PRESCIENT_URL =~ ^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._/-]*)?$ ]] || { log "PRESCIENT_URL is not an http(s) URL"; exit 0; }
mkdir -p "$state" "$spool"

now_ms=$(date +%s%3N)
head="\"time\":$now_ms,\"subject\":\"$PRESCIENT_SUBJECT\",\"source\":\"agent\",\"image\":\"$PRESCIENT_IMAGE\""
out=$spool/$now_ms.ndjson
tmp=$out.tmp
: >"$tmp"
emit() { printf '{%s,%s}\n' "$head" "$1" >>"$tmp"; }
name_ok() { [[ $1 =~ ^[A-Za-z0-9_+.:@-]{1,64}$ ]]; }

# --- resources: deltas of /proc counters since the last run -----------------------------------
read -r _ u n s i w q sq st _ <"$root/proc/stat"
busy=$((u + n + s + q + sq + st)); total=$((busy + i + w))
# mawk prints large numbers in exponent form: sums are printed with %.0f, products done by bash.
mem_total=$(( $(awk '/^MemTotal:/ {print $2}' "$root/proc/meminfo") * 1024 ))
mem_avail=$(( $(awk '/^MemAvailable:/ {print $2}' "$root/proc/meminfo") * 1024 ))
cores=$(grep -c '^processor' "$root/proc/cpuinfo")
read -r disk_r disk_w < <(awk '$3 ~ /^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|nvme[0-9]+n[0-9]+|hd[a-z]+)$/ {r += $6; w += $10} END {printf "%.0f %.0f\n", r, w}' "$root/proc/diskstats")
disk_r=$((disk_r * 512)); disk_w=$((disk_w * 512))
read -r net_in net_out < <(awk -F'[: ]+' 'NR > 2 { sub(/^ +/, ""); split($0, f, /[: ]+/); if (f[1] != "lo") {i += f[2]; o += f[10]} } END {printf "%.0f %.0f\n", i, o}' "$root/proc/net/dev")
if [ -r "$state/counters" ]; then
  read -r p_ms p_busy p_total p_dr p_dw p_ni p_no <"$state/counters"
  dt=$(( now_ms - p_ms ))
  if [ "$dt" -gt 0 ] && [ "$total" -gt "$p_total" ]; then
    rate() { local d=$(( $1 - $2 )); [ "$d" -lt 0 ] && d=0; echo $(( d * 1000 / dt )); }
    cpu=$(awk -v b=$((busy - p_busy)) -v t=$((total - p_total)) 'BEGIN {printf "%.2f", 100 * b / t}')
    emit "\"kind\":\"resource\",\"cpuCores\":$cores,\"cpuPercent\":$cpu,\"memoryBytes\":$((mem_total - mem_avail)),\"memoryTotalBytes\":$mem_total,\"diskReadBps\":$(rate "$disk_r" "$p_dr"),\"diskWriteBps\":$(rate "$disk_w" "$p_dw"),\"netInBps\":$(rate "$net_in" "$p_ni"),\"netOutBps\":$(rate "$net_out" "$p_no")"
  fi
else
  emit "\"kind\":\"resource\",\"cpuCores\":$cores,\"memoryBytes\":$((mem_total - mem_avail)),\"memoryTotalBytes\":$mem_total"
fi
echo "$now_ms $busy $total $disk_r $disk_w $net_in $net_out" >"$state/counters"

# --- program launches: new process accounting records (name, user), not the agent's own ------
# One pipeline, no process per record: forks are what a shell agent spends its CPU on. The
# image is made with offset 0: everything accounting saw since boot.
if [ -r "$pacct" ]; then
  size=$(stat -c %s "$pacct"); off=$(cat "$state/pacct.offset" 2>/dev/null || echo 0)
  [ "$size" -lt "$off" ] && off=0   # rotated
  if [ "$size" -gt "$off" ]; then
    # dump-acct: comm|version|utime|stime|etime|uid|gid|mem|io|pid|ppid|…; names and users are
    # checked here as the server checks them again.
    tail -c +$((off + 1)) "$pacct" | head -c $((size - off)) >"$state/pacct.new"
    # The agent's own processes are left out: its uid's, and (root) its prepare step and what
    # that started (a parent is written after its children: two passes).
    dump-acct "$state/pacct.new" 2>/dev/null | awk -F'|' -v me="$(id -u)" -v head="$head" '
      BEGIN { while ((getline line < "/etc/passwd") > 0) { split(line, f, ":"); user[f[3]] = f[1] } }
      { n++; comm[n] = $1; sub(/ +$/, "", comm[n]); uid[n] = $6; gsub(/ /, "", uid[n]); pid[n] = $10 + 0; ppid[n] = $11 + 0
        if (comm[n] == "prepare" && uid[n] == 0) agent[pid[n]] = 1 }
      END {
        for (i = n; i >= 1; i--) if (ppid[i] in agent) agent[pid[i]] = 1
        for (i = 1; i <= n; i++) {
          c = comm[i]; u = uid[i]
          if (u == me || (pid[i] in agent) || c !~ /^[A-Za-z0-9_+.:@-]+$/ || length(c) > 64) continue
          name = (u in user && user[u] ~ /^[A-Za-z0-9_.-]+$/) ? user[u] : u
          key = c SUBSEP name; if (key in seen) continue; seen[key] = 1
          printf "{%s,\"kind\":\"launch\",\"executable\":\"%s\",\"user\":\"%s\"}\n", head, c, name
        } }' >>"$tmp"
    rm -f "$state/pacct.new"
  fi
  echo "$size" >"$state/pacct.offset"
fi

# --- commands not found (bash hook appends one word a line) ------------------------------------
if [ -s "$cnf" ]; then
  mv "$cnf" "$cnf.taken" 2>/dev/null && : >"$cnf" && chmod 0622 "$cnf"
  sort -u "$cnf.taken" | while read -r prog; do name_ok "$prog" && emit "\"kind\":\"command\",\"command\":\"$prog\",\"outcome\":\"not-found\""; done
  rm -f "$cnf.taken"
fi

# --- packages installed after delivery (dpkg.log past the size it had when the image was made) --
if [ -r "$dpkglog" ]; then
  size=$(stat -c %s "$dpkglog")
  off=$(cat "$state/dpkg.offset" 2>/dev/null || echo "$size")
  [ "$size" -lt "$off" ] && off=0
  tail -c +$((off + 1)) "$dpkglog" | head -c $((size - off)) | awk '$3 == "install" {sub(/:.*/, "", $4); print $4}' | sort -u |
    while read -r pkg; do [[ $pkg =~ ^[a-z0-9][a-z0-9+.-]+$ ]] && emit "\"kind\":\"access\",\"target\":\"dpkg:$pkg\",\"op\":\"write\",\"bytes\":0"; done
  echo "$size" >"$state/dpkg.offset"
fi

# --- reads of the datasets Prescient placed: atime moved past the mark set at first run --------
if [ -r "$datasets" ] && [ -r "$state/datasets.armed" ]; then
  grep -o '"destination": *"[^"]*"' "$datasets" | sed 's/.*"\([^"]*\)"$/\1/' | while read -r path; do
    [[ $path =~ ^/[A-Za-z0-9._/+@-]+$ ]] || continue
    grep -qxF "$path" "$state/datasets.read" 2>/dev/null && continue
    at=$(stat -c %X "$path" 2>/dev/null) || continue
    if [ "$at" -ge "$(cat "$state/datasets.armed")" ]; then
      emit "\"kind\":\"access\",\"target\":\"$path\",\"op\":\"read\",\"bytes\":$(stat -c %s "$path")"
      echo "$path" >>"$state/datasets.read"
    fi
  done
fi

# --- listening ports and inbound connections per port ------------------------------------------
# Listeners on an address other than loopback (what the outside can reach).
listening=$(ss -Htln 2>/dev/null | awk '{ a = $4; p = a; sub(/.*:/, "", p); h = a; sub(/:[^:]*$/, "", h); if (h !~ /^(127\.|\[::1\]|::1)/) print p }' | sort -un)
for p in $listening; do emit "\"kind\":\"flow\",\"direction\":\"in\",\"protocol\":\"tcp\",\"port\":$p,\"remote\":\"*\",\"bytes\":0,\"outcome\":\"listening\""; done
# New connections per port since the last run: the SYN counters of the agent's nftables set
# (prepare.sh), read and reset. A SYN to a port nobody listens on was refused.
if [ "${PRESCIENT_AGENT_NFT:-on}" != off ] && syns=$(nft -j list set inet prescient_agent syn 2>/dev/null); then
  nft flush set inet prescient_agent syn 2>/dev/null
  grep -oE '"val": *[0-9]+, *"counter": *\{ *"packets": *[0-9]+' <<<"$syns" | sed -E 's/^"val": *([0-9]+),.*"packets": *([0-9]+)$/\1 \2/' | while read -r port packets; do
    [ "${packets:-0}" -gt 0 ] || continue
    if grep -qx "$port" <<<"$listening"; then outcome=''; else outcome=',"outcome":"refused"'; fi
    emit "\"kind\":\"flow\",\"direction\":\"in\",\"protocol\":\"tcp\",\"port\":$port,\"remote\":\"*\",\"bytes\":0$outcome"
  done
fi

mv "$tmp" "$out"

# --- the spool: bounded, oldest dropped first; then sent oldest first --------------------------
ls -1 "$spool" | grep -E '^[0-9]+\.ndjson$' | sort -n | head -n -"$max_files" | while read -r f; do rm -f "$spool/$f"; done
while [ "$(du -sk "$spool" | cut -f1)" -gt "$max_kib" ]; do
  f=$(ls -1 "$spool" | grep -E '^[0-9]+\.ndjson$' | sort -n | head -1); [ -n "$f" ] || break; rm -f "$spool/$f"
done

auth=$(printf '%s' "$PRESCIENT_CREDENTIAL" | base64 -w0)
for f in $(ls -1 "$spool" | grep -E '^[0-9]+\.ndjson$' | sort -n); do
  # The credential goes through curl's config on stdin, never its command line (ps shows that).
  code=$(printf 'header = "Authorization: Basic %s"\n' "$auth" |
    curl -sS -o "$state/last-answer" -w '%{http_code}' -K - --max-time 20 -H 'content-type: application/x-ndjson' --data-binary "@$spool/$f" "$PRESCIENT_URL/v1/telemetry" 2>>"$state/last-error") || code=000
  case $code in
    2??) rm -f "$spool/$f" ;;
    401|403)
      # Consent withdrawn (403: no consent for the subject; 401: the agent credential, which is
      # stable while consent lasts, was revoked with it): nothing more is collected or kept, and
      # the service stops for good. A new seed (a new request) brings a new credential.
      log "the server refused the report ($code): consent was revoked; deleting the spool and stopping"
      rm -rf "${spool:?}"/*
      : >"$state/revoked"
      nft delete table inet prescient_agent 2>/dev/null
      exit 0 ;;
    400|413|415) log "report $f refused ($code): dropped"; rm -f "$spool/$f" ;;
    *) log "server unreachable or failing ($code): $f stays spooled"; break ;;
  esac
done
exit 0
