#!/bin/sh
# Builds BUILD/hibernate_VERSION_amd64.deb with dpkg-deb, reproducibly: the same commit gives
# the same bytes (the dates are the last commit's, SOURCE_DATE_EPOCH; owners root; files
# sorted; xz). Run from the module root by make deb, after the initramfs base is built:
#   dist/deb/build.sh BUILD BASE
# A tree with changes not committed is refused unless DEB_ALLOW_DIRTY=1: its .deb would carry
# the version of a commit it is not.
set -e
build=$1 base=$2
if [ -z "$build" ] || [ ! -f "$base" ]; then
	echo "usage: $0 BUILD BASE (the built initramfs-base.cpio)" >&2
	exit 2
fi
if [ -n "$(git status --porcelain)" ]; then
	if [ "${DEB_ALLOW_DIRTY:-}" != 1 ]; then
		echo "deb: the tree has changes not committed (git status); commit them, or DEB_ALLOW_DIRTY=1" >&2
		exit 1
	fi
	echo "deb: WARNING: building from a dirty tree (DEB_ALLOW_DIRTY=1): the version says $(git rev-parse --short HEAD), the files are not quite it" >&2
fi
version=$(dist/deb/version.sh)
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SOURCE_DATE_EPOCH
maintainer=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>')}
date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
work=$build/deb
root=$work/root
rm -rf "$work"
mkdir -p "$work"
umask 022

CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
	-ldflags "-s -w -X github.com/hibernate-linux/hibernate/cmd/hibernate/cli.Version=$version" \
	-o "$work/hibernate" ./cmd/hibernate
go run ./tools/gendoc -o "$work/doc" -version "$version" -date "$date"

install -D -m 0755 "$work/hibernate" "$root/usr/sbin/hibernate"
install -D -m 0644 "$base" "$root/usr/lib/hibernate/initramfs-base.cpio"
sed 's|@PREFIX@|/usr|g' dist/kernel/zz-hibernate.in > "$work/zz-hibernate"
install -D -m 0755 "$work/zz-hibernate" "$root/etc/kernel/postinst.d/zz-hibernate"
install -D -m 0755 "$work/zz-hibernate" "$root/etc/kernel/postrm.d/zz-hibernate"
install -d -m 0755 "$root/usr/lib/systemd/system"
for u in hibernate-watch.service hibernate-canary.service hibernate-canary.timer; do
	sed 's|/usr/local/sbin/hibernate|/usr/sbin/hibernate|g; s|^# Install: cp dist/systemd/.*|# Installed by the hibernate package, not enabled. To use it:|' \
		"dist/systemd/$u" > "$root/usr/lib/systemd/system/$u"
	chmod 0644 "$root/usr/lib/systemd/system/$u"
done
for v in hibernate hybrid-sleep suspend-then-hibernate; do
	install -d -m 0755 "$root/usr/lib/systemd/system/systemd-$v.service.d"
	sed "s|@PREFIX@|/usr|g; s|@VERB@|$v|g" dist/systemd/sleep-dropin.conf.in > "$root/usr/lib/systemd/system/systemd-$v.service.d/hibernate.conf"
	chmod 0644 "$root/usr/lib/systemd/system/systemd-$v.service.d/hibernate.conf"
done
install -d -m 0755 "$root/usr/share/man/man8"
for p in "$work"/doc/man8/*.8; do
	gzip -9n < "$p" > "$root/usr/share/man/man8/${p##*/}.gz"
done
install -D -m 0644 "$work/doc/bash-completion/hibernate" "$root/usr/share/bash-completion/completions/hibernate"
install -D -m 0644 "$work/doc/zsh/_hibernate" "$root/usr/share/zsh/vendor-completions/_hibernate"
doc=$root/usr/share/doc/hibernate
install -d -m 0755 "$doc"
dist/deb/copyright.sh > "$doc/copyright"
for f in README.md docs/*.md; do
	gzip -9n < "$f" > "$doc/${f##*/}.gz"
done
cp docs/*.png "$doc/" 2>/dev/null || true
{
	echo "hibernate ($version) unstable; urgency=medium"
	echo
	echo "  * Built from commit $(git rev-parse --short=12 HEAD); the changes are in"
	echo "    the git history of https://github.com/hibernate-linux/hibernate."
	echo
	echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.Debian.gz"
chmod 0644 "$doc"/*

# Go links statically (CGO_ENABLED=0: no libc to match on the machine, nor in the initramfs);
# lintian knows it of Go only from a source package's Build-Depends, which a .deb built
# without one has not.
install -D -m 0644 dist/deb/lintian-overrides "$root/usr/share/lintian/overrides/hibernate"
install -d -m 0755 "$root/DEBIAN"
for s in postinst prerm postrm; do
	install -m 0755 "dist/deb/$s" "$root/DEBIAN/$s"
done
printf '/etc/kernel/postinst.d/zz-hibernate\n/etc/kernel/postrm.d/zz-hibernate\n' > "$root/DEBIAN/conffiles"
# Installed-Size in KiB, each file and folder rounded up.
size=$(find "$root" -path "$root/DEBIAN" -prune -o -printf '%s\n' | awk '{ s += int(($1 + 1023) / 1024) } END { print s }')
sed "s|@VERSION@|$version|; s|@MAINTAINER@|$maintainer|; s|@SIZE@|$size|" dist/deb/control.in > "$root/DEBIAN/control"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' md5sum) > "$work/md5sums"
install -m 0644 "$work/md5sums" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
out="$build/hibernate_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
