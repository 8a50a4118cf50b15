#!/bin/bash
# Prescient in-guest agent: one report a minute. prescient-agent.service runs this once as the
# prescient-agent user with PRESCIENT_AGENT_INTERVAL=60 and it stays, reporting on each minute;
# without an interval (tests) it makes one report and ends. A report samples /proc, reads what
# process accounting, dpkg.log, bash's command-not-found hook and the kernel's per-port SYN
# counters saw since the last one, writes one NDJSON file of TelemetryEvents to the spool, then
# sends every spooled file oldest first.
# Program names only, never arguments: process accounting keeps no arguments, and the hook
# records only the word that was not found.
#
# Why it is written this way: under emulation (QEMU's TCG) a fork costs about 40 ms of a vCPU, a
# small exec 80 ms and nft 300 ms, against a budget of 1 % of one vCPU (0.6 s a minute). So the
# collector is one long-lived shell that reads /proc whole with bash's own mapfile (no awk, cat,
# ss, stat, date), keeps process accounting open between reports and reads it (dump-acct, awk)
# only when it changed, runs nft only when TCP's counters say a connection came or was refused,
# and sends over bash's /dev/tcp when the server's URL is http:// (the guestfwd of a VM on a
# host's loopback; https:// goes through curl). An idle minute starts no process.
set -u -f     # -f: lines of /proc are split into words, never globbed (the spool's glob turns it back on)
umask 077
export LC_ALL=C
# A server that closes early must fail a write, not end the agent.
trap '' PIPE

state=${PRESCIENT_AGENT_STATE:-/var/lib/prescient-agent}
spool=${PRESCIENT_AGENT_SPOOL:-$state/spool}
root=${PRESCIENT_AGENT_ROOT:-}   # tests point this at a fake /proc root; empty in a guest
interval=${PRESCIENT_AGENT_INTERVAL:-0}           # seconds between reports; 0: one report
max_files=${PRESCIENT_AGENT_MAX_FILES:-1440}      # a day of reports
max_kib=${PRESCIENT_AGENT_MAX_KIB:-8192}          # and never more than 8 MiB on disk
pacct=${PRESCIENT_AGENT_PACCT:-/var/log/account/pacct}
dpkglog=${PRESCIENT_AGENT_DPKG_LOG:-/var/log/dpkg.log}
datasets=${PRESCIENT_AGENT_DATASETS:-/var/lib/prescient/datasets.json}
counters_nft=${PRESCIENT_AGENT_COUNTERS_NFT:-/usr/lib/prescient-agent/counters.nft}
cnf=$state/not-found.log
# acct_v3 (linux/acct.h): every record is this long.
pacct_record=64

log() { echo "prescient-agent: $*" >&2; }

[ -e "$state/revoked" ] && { log "consent was revoked; not reporting"; exit 0; }
for v in PRESCIENT_URL PRESCIENT_SUBJECT PRESCIENT_IMAGE PRESCIENT_CREDENTIAL; do
  [ -n "${!v:-}" ] || { log "$v is not set (it comes from the seed, /etc/prescient/agent.env)"; exit 0; }
done
# What goes into JSON unquoted-checked here: the server validates again, but a report must never
# be malformed by its own seed.
[[ $PRESCIENT_SUBJECT =~ ^client:[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$ ]] || { log "PRESCIENT_SUBJECT is not client:ID"; exit 0; }
[[ $PRESCIENT_IMAGE =~ ^sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})$ ]] || { log "PRESCIENT_IMAGE is not a digest"; exit 0; }
[[ $PRESCIENT_URL =~ ^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._/-]*)?$ ]] || { log "PRESCIENT_URL is not an http(s) URL"; exit 0; }
[[ $interval =~ ^[0-9]+$ ]] || { log "PRESCIENT_AGENT_INTERVAL is not a number of seconds"; exit 0; }
[ -d "$spool" ] || mkdir -p "$state" "$spool"

auth=$(printf '%s' "$PRESCIENT_CREDENTIAL" | base64 -w0)
me=$EUID
cores=

# The report being made: its common fields and its lines.
head=
out=
emit() { out+="{$head,$1}"$'\n'; }
name_ok() { [[ $1 =~ ^[A-Za-z0-9_+.:@-]{1,64}$ ]]; }
# $1 counter now, $2 at the last report → rate per second over dt ms (a reset counts as 0).
per_s() { local d=$(( $1 - $2 )); [ "$d" -lt 0 ] && d=0; rate=$(( d * 1000 / dt )); }

# --- resources: deltas of /proc counters since the last report ----------------------------------
resources() {
  # Whole files at once (mapfile): a read loop makes the kernel render a /proc file again for
  # every line, which under emulation costs more than the report.
  local u n s i w q sq st busy total l
  local -a lines f
  read -r _ u n s i w q sq st _ <"$root/proc/stat"
  busy=$((u + n + s + q + sq + st)); total=$((busy + i + w))
  local mem_total=0 mem_avail=0
  mapfile -t -n 8 lines <"$root/proc/meminfo"
  for l in "${lines[@]}"; do
    f=($l)
    case ${f[0]} in
      MemTotal:) mem_total=$((f[1] * 1024)) ;;
      MemAvailable:) mem_avail=$((f[1] * 1024)) ;;
    esac
  done
  if [ -z "$cores" ]; then
    # Counted once per start: a vCPU hot-plugged later shows at the next start.
    cores=0
    mapfile -t lines <"$root/proc/cpuinfo"
    for l in "${lines[@]}"; do [[ $l == processor[[:space:]]* ]] && cores=$((cores + 1)); done
  fi
  local disk_r=0 disk_w=0
  mapfile -t lines <"$root/proc/diskstats"
  for l in "${lines[@]}"; do
    f=($l)
    case ${f[2]} in
      sd[a-z] | sd[a-z][a-z] | vd[a-z] | vd[a-z][a-z] | xvd[a-z] | xvd[a-z][a-z] | hd[a-z] | nvme[0-9]n[0-9] | nvme[0-9][0-9]n[0-9] | nvme[0-9]n[0-9][0-9]) disk_r=$((disk_r + f[5])); disk_w=$((disk_w + f[9])) ;;
    esac
  done
  disk_r=$((disk_r * 512)); disk_w=$((disk_w * 512))
  local net_in=0 net_out=0
  mapfile -t -s 2 lines <"$root/proc/net/dev"
  for l in "${lines[@]}"; do
    f=(${l/:/ })
    [ "${f[0]}" = lo ] || { net_in=$((net_in + f[1])); net_out=$((net_out + f[9])); }
  done
  local p_ms p_busy p_total p_dr p_dw p_ni p_no
  if read -r p_ms p_busy p_total p_dr p_dw p_ni p_no 2>/dev/null <"$state/counters" && [[ "$p_ms $p_busy $p_total $p_dr $p_dw $p_ni $p_no" =~ ^[0-9]+(\ [0-9]+){6}$ ]]; then
    local dt=$(( now_ms - p_ms )) rate b t x dr dw ni no
    if [ "$dt" -gt 0 ] && [ "$total" -gt "$p_total" ]; then
      b=$((busy - p_busy)); t=$((total - p_total)); x=$(( (10000 * b + t / 2) / t ))
      per_s "$disk_r" "$p_dr"; dr=$rate; per_s "$disk_w" "$p_dw"; dw=$rate
      per_s "$net_in" "$p_ni"; ni=$rate; per_s "$net_out" "$p_no"; no=$rate
      printf -v x '"kind":"resource","cpuCores":%d,"cpuPercent":%d.%02d,"memoryBytes":%d,"memoryTotalBytes":%d,"diskReadBps":%d,"diskWriteBps":%d,"netInBps":%d,"netOutBps":%d' \
        "$cores" $((x / 100)) $((x % 100)) $((mem_total - mem_avail)) "$mem_total" "$dr" "$dw" "$ni" "$no"
      emit "$x"
    fi
  else
    emit "\"kind\":\"resource\",\"cpuCores\":$cores,\"memoryBytes\":$((mem_total - mem_avail)),\"memoryTotalBytes\":$mem_total"
  fi
  echo "$now_ms $busy $total $disk_r $disk_w $net_in $net_out" >"$state/counters"
}

# --- program launches: new process accounting records (name, user), not the agent's own --------
# The file stays open between reports: each dump-acct reads from where the last one stopped.
# The image is made with offset 0: everything accounting saw since boot.
pacct_fd=
pacct_off=0
open_pacct() {
  local off=0 size
  exec {pacct_fd}<"$pacct" || { pacct_fd=; return 1; }
  if [ "${1:-}" != start ] && read -r off 2>/dev/null <"$state/pacct.offset" && [[ $off =~ ^[0-9]+$ ]] && [ "$off" -gt 0 ]; then
    size=$(stat -c %s "$pacct")
    [ "$size" -lt "$off" ] && off=0   # rotated while the agent was not running
    [ "$off" -gt 0 ] && head -c "$off" >/dev/null <&"$pacct_fd"
  else
    off=0
  fi
  pacct_off=$off
}
launches_from() {
  # One awk pass (bash's read takes a pipe a byte at a time: a busy machine's thousand records a
  # minute cost seconds of emulated CPU that way). dump-acct: comm|version|utime|stime|etime|uid|
  # gid|mem|io|pid|ppid|…; names and users are checked here as the server checks them again.
  # The agent's own processes are left out: its uid's, and (root) its prepare step and what
  # that started (a parent is written after its children: two passes). Last line: the count.
  local line
  while IFS= read -r line; do
    case $line in
      records\ *) [[ ${line#records } =~ ^[0-9]+$ ]] && pacct_off=$((pacct_off + ${line#records } * pacct_record)) ;;
      *) out+="{$head,$line}"$'\n' ;;
    esac
  done < <(dump-acct - <&"$pacct_fd" 2>/dev/null | awk -F'|' -v me="$me" '
    { n++; comm[n] = $1; sub(/ +$/, "", comm[n]); uid[n] = $6; gsub(/ /, "", uid[n]); pid[n] = $10 + 0; ppid[n] = $11 + 0
      if (comm[n] == "prepare" && uid[n] == 0) agent[pid[n]] = 1 }
    END {
      if (n > 0) while ((getline line < "/etc/passwd") > 0) { split(line, f, ":"); user[f[3]] = f[1] }
      for (i = n; i >= 1; i--) if (ppid[i] in agent) agent[pid[i]] = 1
      for (i = 1; i <= n; i++) {
        c = comm[i]; u = uid[i]
        if (u == me || (pid[i] in agent) || u !~ /^[0-9]+$/ || c !~ /^[A-Za-z0-9_+.:@-]+$/ || length(c) > 64) continue
        name = (u in user && user[u] ~ /^[A-Za-z0-9_.-]+$/) ? user[u] : u
        key = c SUBSEP name; if (key in seen) continue; seen[key] = 1
        printf "\"kind\":\"launch\",\"executable\":\"%s\",\"user\":\"%s\"\n", c, name
      }
      print "records " n }')
}
launches() {
  [ -r "$pacct" ] || return 0
  if [ -z "$pacct_fd" ]; then
    open_pacct || return 0
  elif ! [[ $pacct -ef /dev/fd/$pacct_fd ]]; then
    # Rotated (savelog renamed it; accounting writes a new file): the old one's rest, then the new.
    launches_from
    exec {pacct_fd}<&-
    open_pacct start || return 0
  elif ! [[ $pacct -nt $state/pacct.offset ]]; then
    # Nothing ended since the last report did (its end rewrites the offset file): no dump-acct,
    # so an idle minute starts no process at all.
    return 0
  fi
  launches_from
}

# --- commands not found (bash hook appends one word a line) ------------------------------------
not_found() {
  [ -s "$cnf" ] || return 0
  # Taken away first so that a word written meanwhile goes to the fresh file; that one is made
  # writable by everyone (0622) and readable only by the agent.
  mv -f "$cnf" "$cnf.taken" 2>/dev/null || return 0
  umask 0155; : >"$cnf"; umask 077
  local prog
  local -A seen=()
  while read -r prog; do
    name_ok "$prog" || continue
    [ -n "${seen[$prog]:-}" ] && continue; seen[$prog]=1
    emit "\"kind\":\"command\",\"command\":\"$prog\",\"outcome\":\"not-found\""
  done <"$cnf.taken"
  : >"$cnf.taken"
}

# --- packages installed after delivery (dpkg.log past the size it had when the image was made) --
packages() {
  [ -r "$dpkglog" ] || return 0
  local off
  if ! read -r off 2>/dev/null <"$state/dpkg.offset" || ! [[ $off =~ ^[0-9]+$ ]]; then
    stat -c %s "$dpkglog" >"$state/dpkg.offset"; return 0
  fi
  # Nothing written since the offset was: nothing to read (the offset file's time is the mark).
  [[ $dpkglog -nt $state/dpkg.offset ]] || return 0
  local got line pkg pass
  local -A seen=()
  for pass in 1 2; do
    got=0
    # Whole lines only: one dpkg is still writing is read at the next report.
    while IFS= read -r line; do
      got=$((got + ${#line} + 1))
      [[ $line =~ ^[^\ ]+\ [^\ ]+\ install\ ([^\ :]+) ]] || continue
      pkg=${BASH_REMATCH[1]}
      [[ $pkg =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || continue
      [ -n "${seen[$pkg]:-}" ] && continue; seen[$pkg]=1
      emit "\"kind\":\"access\",\"target\":\"dpkg:$pkg\",\"op\":\"write\",\"bytes\":0"
    done < <(tail -c +$((off + 1)) "$dpkglog")
    # Written to but nothing past the offset: the log was rotated or truncated; read it anew.
    [ "$got" -eq 0 ] && [ "$off" -gt 0 ] || break
    off=0
  done
  echo $((off + got)) >"$state/dpkg.offset"
}

# --- reads of the datasets Prescient placed: read since prepare set their atime far back -------
# A file whose atime is older than its mtime is unread (bash's -N); a read moves its atime.
datasets_read() {
  [ -r "$datasets" ] && [ -r "$state/datasets.armed" ] || return 0
  local json path bytes
  local -A done_=()
  IFS= read -r -d '' json <"$datasets"
  [ -r "$state/datasets.read" ] && while IFS= read -r path; do [ -n "$path" ] && done_[$path]=1; done <"$state/datasets.read"
  while [[ $json =~ \"destination\":\ *\"([^\"]*)\" ]]; do
    path=${BASH_REMATCH[1]}; json=${json#*"${BASH_REMATCH[0]}"}
    [[ $path =~ ^/[A-Za-z0-9._/+@-]+$ ]] || continue
    [ -n "${done_[$path]:-}" ] && continue
    [ -f "$path" ] && ! [[ -N $path ]] || continue
    bytes=$(stat -c %s "$path" 2>/dev/null) || continue
    emit "\"kind\":\"access\",\"target\":\"$path\",\"op\":\"read\",\"bytes\":$bytes"
    echo "$path" >>"$state/datasets.read"
  done
}

# --- listening ports and inbound connections per port ------------------------------------------
ports() {
  # Listeners on an address other than loopback (what the outside can reach), from the kernel's
  # socket tables: local address (hex, little-endian for IPv4) and state 0A = LISTEN.
  local t l port syns packets outcome
  local -a listening=() lines f
  for t in "$root/proc/net/tcp" "$root/proc/net/tcp6"; do
    [ -r "$t" ] || continue
    mapfile -t -s 1 lines <"$t"
    for l in "${lines[@]}"; do
      f=($l)
      [ "${f[3]}" = 0A ] && [[ ${f[1]} =~ ^[0-9A-F]+:[0-9A-F]{4}$ ]] || continue
      case ${f[1]%:*} in
        ??????7F | 00000000000000000000000001000000 | 0000000000000000FFFF0000??????7F) continue ;;
      esac
      listening[16#${f[1]##*:}]=1
    done
  done
  for port in "${!listening[@]}"; do emit "\"kind\":\"flow\",\"direction\":\"in\",\"protocol\":\"tcp\",\"port\":$port,\"remote\":\"*\",\"bytes\":0,\"outcome\":\"listening\""; done
  [ "${PRESCIENT_AGENT_NFT:-on}" != off ] || return 0
  # nft costs about 0.3 s of an emulated vCPU, half the agent's budget, so it runs only when TCP's
  # own counters (/proc/net/snmp) show a SYN was answered since it last ran (PassiveOpens: one
  # accepted; OutRsts: one refused, or any reset sent), and at least every 10 minutes for SYNs a
  # firewall dropped unanswered (their counts wait in the set; only their minute is later).
  local tcp= h v j p_tcp= p_ms=0
  mapfile -t lines <"$root/proc/net/snmp"
  for ((j = 0; j + 1 < ${#lines[@]}; j++)); do
    [[ ${lines[j]} == Tcp:* ]] || continue
    h=(${lines[j]}); f=(${lines[j + 1]})
    for ((v = 1; v < ${#h[@]}; v++)); do case ${h[v]} in PassiveOpens | OutRsts) tcp+="${f[v]} " ;; esac; done
    break
  done
  read -r p_tcp p_ms 2>/dev/null <"$state/tcp.last"
  [[ $p_ms =~ ^[0-9]+$ ]] || p_ms=0
  [ "${tcp// /_}" = "${p_tcp}" ] && [ $((now_ms - p_ms)) -lt 600000 ] && return 0
  # New connections per port: the SYN counters of the agent's nftables set (counters.nft)
  # against their values when nft last ran ($state/syn.last; whoever makes the set anew removes
  # that file). In one nft, a list after which the set is flushed shows no elements, so the set
  # is flushed only when it grows large (a port scan). A SYN to a port nobody listens on was
  # refused.
  if ! syns=$(nft -j list set inet prescient_agent syn 2>/dev/null); then
    # The table is gone (a ruleset flushed by hand): put it back for the next report.
    rm -f "$state/syn.last"
    nft -f "$counters_nft" 2>/dev/null || log "no per-port connection counters (nft failed)"
    return 0
  fi
  local lp lc d elements=0 counts=
  local -A last=()
  [ -r "$state/syn.last" ] && while read -r lp lc; do [[ $lp =~ ^[0-9]+$ && $lc =~ ^[0-9]+$ ]] && last[$lp]=$lc; done <"$state/syn.last"
  while [[ $syns =~ \"val\":\ *([0-9]+),\ *\"counter\":\ *\{\ *\"packets\":\ *([0-9]+) ]]; do
    port=${BASH_REMATCH[1]}; packets=${BASH_REMATCH[2]}; syns=${syns#*"${BASH_REMATCH[0]}"}
    elements=$((elements + 1)); counts+="$port $packets"$'\n'
    d=$((packets - ${last[$port]:-0})); [ "$d" -lt 0 ] && d=$packets   # counted anew since
    [ "$d" -gt 0 ] || continue
    if [ -n "${listening[port]:-}" ]; then outcome=''; else outcome=',"outcome":"refused"'; fi
    emit "\"kind\":\"flow\",\"direction\":\"in\",\"protocol\":\"tcp\",\"port\":$port,\"remote\":\"*\",\"bytes\":0$outcome"
  done
  if [ "$elements" -gt 1024 ]; then
    nft flush set inet prescient_agent syn 2>/dev/null && counts=
  fi
  printf '%s' "$counts" >"$state/syn.last"
  echo "${tcp// /_} $now_ms" >"$state/tcp.last"
}

# --- sending --------------------------------------------------------------------------------------
# Sets `code` to the HTTP status of POSTing file $1 to the server (000: not reached).
post() {
  local body status hp path port sock= size=${1##*-}
  code=000
  # A file shorter than its name says was cut when written (a machine that lost power): sending
  # it would report a partial line; it is dropped instead.
  IFS= read -r -d '' body <"$1"
  [ "${#body}" -eq "${size%.ndjson}" ] || { code=torn; return 0; }
  if [[ $PRESCIENT_URL != http://* ]]; then
    # The credential goes through curl's config on stdin, never its command line (ps shows that).
    code=$(printf 'header = "Authorization: Basic %s"\n' "$auth" |
      curl -sS -o /dev/null -w '%{http_code}' -K - --max-time 20 -H 'content-type: application/x-ndjson' --data-binary "@$1" "$PRESCIENT_URL/v1/telemetry" 2>>"$state/last-error") || code=000
    return 0
  fi
  # Plain HTTP/1.1 over bash's /dev/tcp: one request, then the status line; the connection closes.
  hp=${PRESCIENT_URL#http://}; path=
  [[ $hp == */* ]] && { path=/${hp#*/}; hp=${hp%%/*}; }
  port=80; [[ $hp == *:* ]] && port=${hp##*:}
  { exec {sock}<>"/dev/tcp/${hp%:*}/$port"; } 2>>"$state/last-error" || return 0
  printf 'POST %s/v1/telemetry HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "${path%/}" "$hp" "$auth" "${#body}" "$body" >&"$sock" 2>>"$state/last-error" &&
    IFS= read -r -t 20 -u "$sock" status 2>/dev/null &&
    # Then the answer to its end: closing a socket with unread data sends a reset, which TCP's
    # counters show as a refused connection (and the next report would run nft for nothing).
    while IFS= read -r -t 5 -u "$sock" _ 2>/dev/null; do :; done
  exec {sock}>&-
  [[ ${status:-} =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]] && code=${BASH_REMATCH[1]}
  return 0
}

# --- the spool: bounded, oldest dropped first; then sent oldest first --------------------------
# A file is <ms>-<bytes>.ndjson: its size is in its name, so bounding the spool needs no stat.
spool_and_send() {
  printf '%s' "$out" >"$spool/$now_ms-${#out}.ndjson"
  local -a files=() drop=()
  local f b total=0 i
  set +f; shopt -s nullglob
  for f in "$spool"/*.ndjson; do [[ ${f##*/} =~ ^[0-9]+-[0-9]+\.ndjson$ ]] && files+=("$f"); done
  shopt -u nullglob; set -f
  while [ "${#files[@]}" -gt "$max_files" ]; do drop+=("${files[0]}"); files=("${files[@]:1}"); done
  for f in "${files[@]}"; do b=${f##*-}; total=$((total + ${b%.ndjson})); done
  while [ "${#files[@]}" -gt 1 ] && [ $((total / 1024)) -gt "$max_kib" ]; do
    b=${files[0]##*-}; total=$((total - ${b%.ndjson})); drop+=("${files[0]}"); files=("${files[@]:1}")
  done
  [ "${#drop[@]}" -eq 0 ] || rm -f "${drop[@]}"
  for f in "${files[@]}"; do
    post "$f"
    case $code in
      2??) rm -f "$f" ;;
      401|403)
        # Consent withdrawn (403: no consent for the subject; 401: the agent credential, which is
        # stable while consent lasts, was revoked with it): nothing more is collected or kept, and
        # the service stops for good. A new seed (a new request) brings a new credential.
        log "the server refused the report ($code): consent was revoked; deleting the spool and stopping"
        set +f; rm -rf "${spool:?}"/*
        : >"$state/revoked"
        [ "${PRESCIENT_AGENT_NFT:-on}" = off ] || nft delete table inet prescient_agent 2>/dev/null
        exit 0 ;;
      400|413|415) log "report ${f##*/} refused ($code): dropped"; rm -f "$f" ;;
      torn) log "report ${f##*/} is shorter than its name says (cut when written): dropped"; rm -f "$f" ;;
      *) log "server unreachable or failing ($code): ${f##*/} stays spooled"; break ;;
    esac
  done
}

report() {
  local t=${EPOCHREALTIME/./}
  now_ms=${t:0:${#t}-3}
  head="\"time\":$now_ms,\"subject\":\"$PRESCIENT_SUBJECT\",\"source\":\"agent\",\"image\":\"$PRESCIENT_IMAGE\""
  out=
  resources
  launches
  not_found
  packages
  datasets_read
  ports
  spool_and_send
  # Last, after every process this report started has ended: the mark the next one compares
  # process accounting's file with.
  [ -z "$pacct_fd" ] || echo "$pacct_off" >"$state/pacct.offset"
}

# A stop (systemd's SIGTERM, Ctrl-C) waits for the report under way, then ends the agent: cut in
# the middle, a report would leave its spool file half-written, or be sent and not removed, and so
# sent again with accounting records it had already reported. Between reports it ends at once
# (bash's read returns on a trapped signal).
stopping=
trap 'stopping=1' TERM INT
report
[ "$interval" -gt 0 ] && [ -z "$stopping" ] || exit 0
# Between reports: a read that times out on a pipe nobody writes to (a sleep with no process).
# Reports land on the minute (as a timer's would), a few seconds apart between machines.
exec {tick}<> <(:)
jitter=$((RANDOM % (interval < 5 ? interval : 5)))
while :; do
  t=${EPOCHREALTIME%.*}
  read -r -t $(( interval - t % interval + jitter )) -u "$tick" _
  [ -z "$stopping" ] || exit 0
  report
  [ -z "$stopping" ] || exit 0
done
