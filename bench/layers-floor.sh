#!/usr/bin/env bash
# The bare-hands floor of a cold web-db build (issue 16): what the pipeline does for that vector,
# typed by hand into ONE overlay — one FUSE export, one loop mount, one apt-get update + install
# (with the same host package cache bound in), the config writes, the dataset, the disk grown to
# 8 GiB and a 4 GiB swap file — and nothing else (no layers, no records, no checks, no hashing).
#   bash bench/layers-floor.sh BASE.qcow2 OUT.qcow2 DATASET PACKAGE_CACHE_DIR
set -euo pipefail
base=$1 out=$2 dataset=$3 cache=$4
work=$(mktemp -d "${TMPDIR:-/var/tmp}/prescient-floor-XXXXXX")
root=$work/root qsd_pid=
cleanup() {
  set +e
  for m in var/lib/apt/lists var/cache/apt/archives $(findmnt -rno TARGET | grep -F "$root/run" | sed "s|^$root/||" | sort -r) run dev/pts dev proc; do mountpoint -q "$root/$m" && umount "$root/$m"; done
  mountpoint -q "$root" && umount "$root"
  [[ -n ${loop:-} ]] && losetup -d "$loop"
  [[ -n $qsd_pid ]] && kill "$qsd_pid" && while kill -0 "$qsd_pid" 2>/dev/null; do sleep 0.05; done
  rm -rf "$work"
}
trap cleanup EXIT
qemu-img create -q -f qcow2 -b "$base" -F qcow2 "$out" 8G
touch "$work/disk.raw"
qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$out" --blockdev driver=qcow2,node-name=d,file=f \
  --export "type=fuse,id=e,node-name=d,mountpoint=$work/disk.raw,writable=on" --pidfile "$work/qsd.pid" &
for _ in $(seq 200); do [[ -s $work/qsd.pid ]] && (( $(stat -c %s "$work/disk.raw") > 0 )) && break; sleep 0.05; done
qsd_pid=$(cat "$work/qsd.pid")
echo ', +' | sfdisk --quiet --no-reread --no-tell-kernel -N 1 "$work/disk.raw"
read -r start size < <(sfdisk --dump "$work/disk.raw" | sed -n 's/.*start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p' | head -1)
loop=$(losetup --find --show --offset $((start * 512)) --sizelimit $((size * 512)) "$work/disk.raw")
e2fsck -f -y "$loop" >/dev/null || (( $? <= 1 ))
resize2fs -f "$loop" >/dev/null 2>&1
mkdir "$root" && mount -o nodev,nosuid "$loop" "$root"
mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" && mount --bind /dev/pts "$root/dev/pts" && mount -t tmpfs tmpfs "$root/run"
# the guest's resolv.conf points into /run (systemd-resolved); the host's resolver answers while we work
target=$(readlink "$root/etc/resolv.conf" || echo /etc/resolv.conf)
[[ $target = /* ]] || target=/etc/$target
mkdir -p "$root$(dirname "$target")" && touch "$root$target" && mount --bind /etc/resolv.conf "$root$target"
mkdir -p "$cache/archives/partial" "$cache/lists/partial"
mount --bind "$cache/archives" "$root/var/cache/apt/archives" && mount --bind "$cache/lists" "$root/var/lib/apt/lists"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
apt=(-o DPkg::Lock::Timeout=900 -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
export DEBIAN_FRONTEND=noninteractive
chroot "$root" apt-get "${apt[@]}" update -q >/dev/null
chroot "$root" apt-get "${apt[@]}" install -y -q --no-install-recommends nginx nftables postgresql >/dev/null
rm "$root/usr/sbin/policy-rc.d"
printf 'user www-data;\nworker_processes 4;\npid /run/nginx.pid;\ninclude /etc/nginx/modules-enabled/*.conf;\nevents { worker_connections 1024; }\nhttp { include /etc/nginx/mime.types; include /etc/nginx/conf.d/*.conf; include /etc/nginx/sites-enabled/*; }\n' > "$root/etc/nginx/nginx.conf"
printf 'max_connections = 30\nshared_buffers = 1984MB\neffective_cache_size = 5952MB\nwork_mem = 16MB\n' > "$root/etc/postgresql/15/main/conf.d/90-prescient-tuning.conf"
printf 'table inet filter {\n  chain input { type filter hook input priority 0; policy drop; ct state established,related accept; iif lo accept; tcp dport { 22, 80, 443 } accept; }\n}\n' > "$root/etc/nftables.conf"
printf 'net.core.somaxconn = 4096\n' > "$root/etc/sysctl.d/90-prescient-network.conf"
chroot "$root" systemctl enable nginx.service postgresql.service nftables.service >/dev/null 2>&1
mkdir -p "$root/srv/data" && cp "$dataset" "$root/srv/data/" && mkdir -p "$root/var/lib/prescient" && echo '[]' > "$root/var/lib/prescient/datasets.json"
fallocate -l 4096M "$root/swapfile" && chmod 600 "$root/swapfile" && mkswap "$root/swapfile" >/dev/null
echo '/swapfile none swap sw 0 0' >> "$root/etc/fstab"
