#!/bin/sh
# Prints the Debian version of the commit checked out: from `git describe --tags` when a tag
# exists (v1.2 gives 1.2-1; 3 commits after it, 1.2+git3.abc1234-1), else
# 0.0~git<date of the last commit>.<short hash>-1. Never -dirty: make deb refuses a dirty tree.
# The Debian revision -1 says this packaging, and names the changelog changelog.Debian.gz.
set -e
hash=$(git rev-parse --short=7 HEAD)
if tag=$(git describe --tags --abbrev=0 2>/dev/null); then
	# Debian's upstream version: digits first, then letters, digits and . + ~ only.
	up=$(printf '%s' "${tag#v}" | tr -c 'A-Za-z0-9.+~' '.')
	case "$up" in [0-9]*) ;; *) up="0~$up" ;; esac
	n=$(git rev-list --count "$tag..HEAD")
	[ "$n" = 0 ] || up="$up+git$n.$hash"
else
	up="0.0~git$(TZ=UTC git log -1 --date=format-local:%Y%m%d --format=%cd).$hash"
fi
echo "$up-1"
