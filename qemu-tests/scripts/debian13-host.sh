#!/usr/bin/env bash
# debian13-host.sh: runs the README's commands as a newcomer on a Debian 13 machine would, in a
# Debian 13 (trixie) root on this machine: a clean clone of this repository's HEAD, then
# `make demo` (and `make test` with --test). Not part of make test: it is the check that the two
# commands work on Debian 13 too, where the machine's own kernel packages are Linux 6.12 with
# merged /usr.
#
#   qemu-tests/scripts/debian13-host.sh [--test] [--seed-debroot] [DIR]
#
# DIR (default $HIBERNATE_CACHE/debian13-host, made by debootstrap once) holds the root. Inside
# it, as on a fresh machine: make installs its packages with apt-get from the mirror the root's
# sources name, fetches the kernels, builds the Debian roots in its own cache (/root/.cache), and
# boots its guests with QEMU. The log is DIR/run-<date>.log.
#
# Safety: the chroot runs in its own mount namespace (unshare), with /dev bound in (QEMU opens
# /dev/null, /dev/urandom; nothing else there is used) and its own /proc; no /sys, so nothing in
# it reaches this machine's /sys/power. Hibernation, swapon and kexec happen only in QEMU guests,
# as in make test. The Go toolchain is this machine's, bound read-only.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=demo seed=
while [ $# -gt 0 ]; do
	case $1 in
	--test) target="demo test" ;;
	--seed-debroot) seed=1 ;;
	*) break ;;
	esac
	shift
done
cache=${HIBERNATE_CACHE:-$HOME/.cache/hibernate}
dir=${1:-$cache/debian13-host}
root=$dir/root
goroot=$(go env GOROOT)
[ "$(id -u)" = 0 ] || { echo "debian13-host: run as root (debootstrap, chroot)" >&2; exit 1; }
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$dir"
if [ ! -e "$dir/.done" ]; then
	rm -rf "$root"
	echo "debian13-host: debootstrap trixie into $root (from $mirror)" >&2
	# As qemu-tests/debroot runs it: in its own mount and PID namespaces, and with an entry in
	# the target's /sys, so that its second stage mounts no sysfs there.
	mkdir -p "$root/sys"
	echo "keeps debootstrap from mounting sysfs here" >"$root/sys/.debroot-no-sysfs"
	unshare --mount --propagation private --pid --fork --kill-child \
		debootstrap --variant=minbase --include=make,git,ca-certificates trixie "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
		{ tail -20 "$dir/debootstrap.log" >&2; exit 1; }
	rm "$root/sys/.debroot-no-sysfs"
	touch "$dir/.done"
fi
rm -rf "$root/root/hibernate"
git clone -q . "$root/root/hibernate"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's own certificate authorities too (a network that inspects TLS has one of its
# own), so that the Go module proxy is reached from the root as from here.
if [ -d /usr/local/share/ca-certificates ]; then
	cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
	chroot "$root" update-ca-certificates >/dev/null
fi
# --seed-debroot: the Debian roots this machine's cache holds, copied in (they are keyed by what
# they are made from, so the same keys are looked up there): saves their debootstraps, but then
# debootstrap itself is not run from Debian 13.
if [ -n "$seed" ] && [ -d "$cache/debroot" ]; then
	mkdir -p "$root/root/.cache/hibernate/debroot"
	for d in "$cache"/debroot/*; do
		case $d in *.partial | *.log | *.lock) continue ;; esac
		t=$root/root/.cache/hibernate/debroot/${d##*/}
		[ -e "$t" ] || cp -a "$d" "$t"
	done
fi
log=$dir/run-$(date +%Y%m%d-%H%M%S).log
echo "debian13-host: make $target in $root/root/hibernate (commit $(git rev-parse --short HEAD)); log $log" >&2
# The mounts live in the namespace only: gone when it ends, however it ends.
set +e
unshare --mount --propagation private --pid --fork --kill-child bash -c '
	set -e
	root=$1 goroot=$2 target=$3
	# The root a mount point of its own: make test unshares namespaces again there (debootstrap
	# of the Debian roots), and making / private fails with EINVAL where / is no mount.
	mount --bind "$root" "$root"
	mount --rbind /dev "$root/dev"
	mount -t proc proc "$root/proc"
	mkdir -p "$root/usr/local/go"
	mount --bind -o ro "$goroot" "$root/usr/local/go"
	exec chroot "$root" env -i PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		bash -c "cd /root/hibernate && cat /etc/debian_version && time make $target"
' bash "$root" "$goroot" "$target" >"$log" 2>&1
rc=$?
set -e
tail -30 "$log"
echo "debian13-host: make $target exited $rc (log $log)" >&2
exit $rc
