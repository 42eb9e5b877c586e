#!/usr/bin/env bash
# e2e.sh: the end-to-end scenarios (qemu-tests/scenario), in two groups side by side, one QEMU
# guest each at a time: most of the Debian systemd guests (minutes each, most of it the guest's
# own update-initramfs and systemd) and the rest. On two cores this takes the wall time of the longer
# group instead of the sum. Each group's whole `go test -v` output is kept in
# build/test-logs/e2e-GROUP.log; the lines that say a test passed or failed, and the whole log of a
# group that failed, are printed.
set -uo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
logs=build/test-logs
mkdir -p "$logs"
# The first group: the Debian guests that each take minutes (debootstrap once, apt, the guest's own
# initramfs builds, GRUB). The Secure Boot guest, the minimal guests and the rest: the other.
# (A clean-clone make test on a fresh machine, 2026-12-02, 45 min in all: the first group 2165 s,
# TestDebianFromPackage 799, TestDebianUEFIGrub 639, TestDebianEncryptedLVM 419,
# TestDebianMDRootKeepsDistributionInitrd 307; the other 2284 s, TestDebianBIOSGrubRoundTrip 470,
# TestDebianSecureBootRefuses 389, TestDebian13RoundTrip 343, TestDebianUEFIHibernateLocation 277.
# The last moved to the first group when TestDebian13RoundTrip took on suspend-then-hibernate and
# the zram and suspend guests came.)
slow='^TestDebian(FromPackage|EncryptedLVM|MDRoot|UEFIGrub|UEFIHibernateLocation|13SystemdBoot|13SystemdHibernateLocationSwapFile)'
# What the disk holds, before and after: a run that fills it fails everywhere at once (stop 29:
# no space left on device), and this says how close it came.
space() {
	local cache=${HIBERNATE_CACHE:-$HOME/.cache/hibernate}
	echo "e2e: $1: $(df -h --output=avail build | tail -n 1 | tr -d ' ') free on build/'s file system;" \
		"build/guests $(du -sh build/guests 2>/dev/null | cut -f1), the cache ($cache) $(du -sh "$cache" 2>/dev/null | cut -f1)"
}
mkdir -p build/guests
space "before"
declare -A args=([debian]="-run $slow" [minimal]="-skip $slow")
declare -A pids
for g in debian minimal; do
	# shellcheck disable=SC2086 # the group's flags are words
	HIBERNATE_E2E=1 $GO test -v -count=1 -timeout 75m ${args[$g]} ./qemu-tests/scenario/ >"$logs/e2e-$g.log" 2>&1 &
	pids[$g]=$!
done
status=0
for g in debian minimal; do
	if wait "${pids[$g]}"; then
		echo "e2e ($g): PASS, log $logs/e2e-$g.log"
	else
		status=1
		echo "e2e ($g): FAIL, its whole log ($logs/e2e-$g.log):"
		cat "$logs/e2e-$g.log"
	fi
	grep -E '^(--- (PASS|FAIL|SKIP)|ok |FAIL)' "$logs/e2e-$g.log" | sed "s/^/  [$g] /"
done
space "after"
exit $status
