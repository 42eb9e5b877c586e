#!/bin/sh
# Prints /usr/share/doc/hibernate/copyright: what hibernate's binary and its initramfs base
# (our /init and the u-root commands of internal/initramfs/mkbase) are built from, with the
# license file of every Go module linked in, taken from the module cache so that it cannot
# drift from go.mod. Run from the module root.
set -e
cat <<'HEAD'
This is hibernate, built from https://github.com/hibernate-linux/hibernate
(/usr/sbin/hibernate, and /usr/lib/hibernate/initramfs-base.cpio: hibernate's /init and a
u-root busybox).

hibernate itself: Copyright the hibernate authors. Its repository carries no license file
yet; this file names none for it.

The programs are statically linked Go programs. Besides the Go standard library (Copyright
The Go Authors, BSD-3-Clause, as in the Go distribution's LICENSE), they hold the Go modules
below, each under the license file it ships, reproduced as found.
HEAD
# The u-root commands of the busybox are listed in mkbase, one import path a line.
ucmds=$(sed -n 's/^[[:space:]]*"\(github.com\/u-root\/u-root\/cmds\/[^"]*\)",$/\1/p' internal/initramfs/mkbase/main.go)
# shellcheck disable=SC2086 # one argument per import path
go list -e -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}|{{.Version}}|{{.Dir}}{{end}}{{end}}' \
	./cmd/hibernate ./cmd/hibernate-init $ucmds | sort -u | while IFS='|' read -r path version dir; do
	[ -n "$path" ] || continue
	printf '\n--------------------------------------------------------------------------\n%s %s\n\n' "$path" "$version"
	found=""
	for f in LICENSE LICENSE.txt LICENSE.md LICENCE COPYING license; do
		if [ -f "$dir/$f" ]; then
			# The Apache License 2.0's text is in common-licenses: its terms (and the
			# appendix after them) are named, the rest of the file kept.
			sed 's/[[:space:]]*$//' "$dir/$f" | awk '
				skip == 0 && /^[[:space:]]*Apache License$/ { skip = 1; next }
				skip == 1 && /END OF TERMS AND CONDITIONS/ {
					print "The Apache License, Version 2.0: on Debian systems its text is in"
					print "/usr/share/common-licenses/Apache-2.0."
					skip = 2; next }
				skip == 2 && /APPENDIX: How to apply the Apache License/ { skip = 3; next }
				skip == 2 && NF > 0 { skip = 0 }
				skip == 3 && /limitations under the License\./ { skip = 0; next }
				skip == 1 || skip == 3 { next }
				{ print }'
			found=1
			break
		fi
	done
	[ -n "$found" ] || echo "(no license file in the module at $version)"
done
