#!/usr/bin/env bash
# fetch-kernel.sh [SUITE-]FLAVOUR [CACHE]
# Fetches the current Debian kernel of a flavour (amd64, cloud-amd64) with `apt-get download` and
# unpacks it below CACHE (default $HIBERNATE_CACHE/kernels, else ~/.cache/hibernate/kernels:
# outside the clone, as internal/testutil.CacheDir has it), reusing what an earlier run left:
#   FLAVOUR        the kernel of this machine's own apt sources, into CACHE/<release>/ (not fetched by
#                  make kernels: the tests boot the same suites' kernels on every host);
#   SUITE-FLAVOUR  (bookworm-amd64, trixie-amd64) that Debian suite's kernel, into CACHE/SUITE/<release>/, through apt
#                  sources, lists and cache of its own in CACHE/SUITE/apt: the machine's apt
#                  configuration is read (its mirror, proxy, keys), never changed.
# A suite's kernels sit in a folder of their own so that nothing looking for this machine's
# kernels (CACHE/*-amd64) takes another suite's by mistake: the newest by name would win.
# The mirror is the one this machine's apt uses for SUITE, else for its own release (os-release's
# VERSION_CODENAME); $HIBERNATE_DEBIAN_MIRROR overrides it.
# Prints the unpacked folder: it holds boot/vmlinuz-<release> and the modules, in
# lib/modules/<release>/ (Debian 12) or usr/lib/modules/<release>/ (Debian 13: merged /usr).
# Acts on nothing but the cache folder: dpkg-deb -x unpacks, it does not install.
set -euo pipefail
arg=${1:-amd64}
cache=${2:-${HIBERNATE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/hibernate}/kernels}

# Debian's amd64 kernel flavours: a word before one of them names a suite.
suite='' flavour=$arg
case $arg in
amd64 | cloud-amd64 | rt-amd64) ;;
*-amd64 | *-cloud-amd64 | *-rt-amd64)
	suite=${arg%%-*} flavour=${arg#*-}
	case $flavour in amd64 | cloud-amd64 | rt-amd64) ;; *) suite='' flavour=$arg ;; esac
	;;
esac
meta=linux-image-$flavour

base=$cache
apt_opts=()
if [ -n "$suite" ]; then
	case $suite in *[!a-z]*) echo "fetch-kernel: suite $suite: want a Debian code name (trixie)" >&2; exit 2 ;; esac
	base=$cache/$suite
	aptdir=$base/apt
	mirror=${HIBERNATE_DEBIAN_MIRROR:-}
	if [ -z "$mirror" ]; then
		own=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || own=''
		for s in "$suite" $own; do
			# apt's own reading of the machine's sources (one-line or deb822, options and all).
			mirror=$(apt-get indextargets --no-release-info --format '$(SITE)' 'Identifier: Packages' 'Component: main' "Release: $s" 2>/dev/null | head -n 1)
			[ -n "$mirror" ] && break
		done
	fi
	[ -n "$mirror" ] || { echo "fetch-kernel: no Debian mirror with main for $suite${own:+ or $own} in apt's sources: set HIBERNATE_DEBIAN_MIRROR" >&2; exit 1; }
	mkdir -p "$aptdir/sources.list.d" "$aptdir/preferences.d" "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	signed=''
	[ -f "$keyring" ] && signed="[signed-by=$keyring] "
	# Only the suite itself: its kernel changes at point releases, not with every security
	# update, so the cached kernel (and the guest disks made with it) lasts.
	echo "deb $signed$mirror $suite main" >"$aptdir/sources.list"
	# The machine's sources.list.d and preferences are replaced by empty ones; its apt.conf.d is
	# kept (a proxy, a mirror's settings). Dir::Cache holds the package caches too.
	apt_opts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
		-o "Dir::Etc::Preferences=$aptdir/preferences" -o "Dir::Etc::PreferencesParts=$aptdir/preferences.d"
		-o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache"
		-o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false" -o "Acquire::Languages=none")
fi

update() {
	if [ -n "$suite" ]; then
		echo "fetch-kernel: apt-get update of $suite ($mirror) into $aptdir" >&2
	else
		echo "fetch-kernel: $meta unknown to apt or gone from the mirror; running apt-get update once" >&2
	fi
	apt-get "${apt_opts[@]}" update -q >&2
}
depends_of() { apt-cache "${apt_opts[@]}" depends "$1" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }

# fetch resolves the flavour to its kernel package and unpacks it, unless an earlier run did.
fetch() {
	pkg=$(depends_of "$meta")
	[ -n "$pkg" ] || return 1
	release=${pkg#linux-image-}
	dir=$base/$release
	[ -f "$dir/.done" ] && return 0
	mkdir -p "$base/debs"
	(cd "$base/debs" && apt-get "${apt_opts[@]}" download -q "$pkg" >&2) || return 1
	deb=$(ls -t "$base/debs/${pkg}_"*.deb | head -n 1)
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
	dpkg-deb -x "$deb" "$dir.tmp"
	dpkg-deb -f "$deb" Version >"$dir.tmp/.version"
	rm -rf "$dir" && mv "$dir.tmp" "$dir"
	touch "$dir/.done"
}

# flavour_of RELEASE: 6.1.0-50-cloud-amd64 -> cloud-amd64, 6.12.117+deb13-amd64 -> amd64.
flavour_of() {
	local r=${1#*-}
	[[ $r =~ ^[0-9]+-(.*)$ ]] && r=${BASH_REMATCH[1]}
	echo "$r"
}

# prune_older removes the other releases of this flavour under base, and their packages: the
# mirror keeps a suite's current kernel only, the tests boot the newest, and each point release
# left another unpacked kernel (hundreds of MiB) in the cache for good.
prune_older() {
	local d r deb
	for d in "$base"/*-"$flavour"; do
		r=${d##*/}
		[ -d "$d" ] && [ "$r" != "$release" ] && [ "$(flavour_of "$r")" = "$flavour" ] || continue
		echo "fetch-kernel: removing $r from the cache (superseded by $release)" >&2
		rm -rf "$d"
	done
	for deb in "$base"/debs/linux-image-*_*.deb; do
		[ -f "$deb" ] || continue
		r=${deb##*/linux-image-}
		r=${r%%_*}
		[ "$r" != "$release" ] && [ "$(flavour_of "$r")" = "$flavour" ] && rm -f "$deb"
	done
	return 0
}

# Lists from an earlier run may be stale (the mirror keeps only a suite's current kernel): one
# update, then once more.
if ! fetch; then
	update
	fetch || { echo "fetch-kernel: cannot resolve $meta${suite:+ of $suite} to a kernel package and download it" >&2; exit 1; }
fi
prune_older
echo "$dir"
