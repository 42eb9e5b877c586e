#!/usr/bin/env bash
# fetch-kernel.sh FLAVOUR [CACHE]
# Fetches the current Debian 12 kernel of a flavour (amd64, cloud-amd64) with `apt-get download`
# and unpacks it into CACHE/<release>/ (default $HIBERNATE_CACHE/kernels, else ~/.cache/hibernate/kernels:
# outside the clone, as internal/testutil.CacheDir has it), reusing what an earlier run left.
# Prints the unpacked folder: it holds boot/vmlinuz-<release> and lib/modules/<release>/.
# Acts on nothing but the cache folder: dpkg-deb -x unpacks, it does not install.
set -euo pipefail
flavour=${1:-amd64}
cache=${2:-${HIBERNATE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/hibernate}/kernels}
meta=linux-image-$flavour

depends_of() { apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
pkg=$(depends_of "$meta")
if [ -z "$pkg" ]; then
	echo "fetch-kernel: $meta unknown to apt; running apt-get update once" >&2
	apt-get update -q >&2
	pkg=$(depends_of "$meta")
fi
[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve $meta to a kernel package" >&2; exit 1; }
release=${pkg#linux-image-}
dir=$cache/$release
if [ -f "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi
mkdir -p "$cache/debs"
(cd "$cache/debs" && apt-get download -q "$pkg" >&2)
deb=$(ls -t "$cache/debs/${pkg}_"*.deb | head -n 1)
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
dpkg-deb -x "$deb" "$dir.tmp"
dpkg-deb -f "$deb" Version >"$dir.tmp/.version"
rm -rf "$dir" && mv "$dir.tmp" "$dir"
touch "$dir/.done"
echo "$dir"
