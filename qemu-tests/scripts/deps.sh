#!/usr/bin/env bash
# deps.sh: installs what the demo and the tests need and the machine lacks, from Debian's
# packages: QEMU (software emulation is enough: KVM is not needed), e2fsprogs (mkfs.ext4 -d),
# and the rest below.
# It installs packages only; it changes nothing else on the machine.
set -euo pipefail
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v dpkg-deb >/dev/null || need+=(dpkg)
[ -x /lib/nut/upsd ] && [ -x /lib/nut/dummy-ups ] || need+=(nut-server)
# upsmon: the fleet test's primary (its own config in a temporary folder; the machine's NUT
# services stay as they are).
[ -x /lib/nut/upsmon ] || need+=(nut-client)
# STARTTLS to upsd in the tests: openssl makes the certificate, and Debian's upsd (an NSS build)
# reads it from a certificate database that certutil and pk12util fill, in a temporary folder.
[ -x /usr/bin/openssl ] || need+=(openssl)
[ -x /usr/bin/certutil ] && [ -x /usr/bin/pk12util ] || need+=(libnss3-tools)
command -v mkfs.btrfs >/dev/null || need+=(btrfs-progs)
command -v mkfs.xfs >/dev/null || need+=(xfsprogs)
command -v xz >/dev/null || need+=(xz-utils)
command -v lz4 >/dev/null || need+=(lz4)
# zstd: Debian 13's kernel image is zstd-compressed; the vmlinux taken out of it is compared with
# zstd's own output (TestBootableKernelZstd).
command -v zstd >/dev/null || need+=(zstd)
command -v debootstrap >/dev/null || need+=(debootstrap)
# kmod's depmod writes the module index of a second kernel into a guest's tree (depmod -b TREE:
# it reads and writes only there), as the kernel package's postinst would in the guest.
command -v depmod >/dev/null || [ -x /sbin/depmod ] || [ -x /usr/sbin/depmod ] || need+=(kmod)
# OVMF: the UEFI firmware the firmware guests boot through (its code read-only, a copy of its
# variable store per guest).
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
# fsck.vfat checks the EFI system partition the host edits with go-diskfs (guestdisk's test).
[ -x /usr/sbin/fsck.vfat ] || [ -x /sbin/fsck.vfat ] || need+=(dosfstools)
# cryptsetup, lvm and mdadm run only inside the tools guest (qemu-tests/scenario/toolsguest.go),
# which lays out the encrypted LVM disk and the md RAID1 one: never on this machine. /usr/sbin is
# not on a user's PATH.
[ -x /usr/sbin/cryptsetup ] || [ -x /sbin/cryptsetup ] || need+=(cryptsetup-bin)
[ -x /usr/sbin/lvm ] || [ -x /sbin/lvm ] || need+=(lvm2)
[ -x /usr/sbin/mdadm ] || [ -x /sbin/mdadm ] || need+=(mdadm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing ${need[*]}; install them as root: apt-get install ${need[*]}" >&2
	exit 1
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${need[@]}" >&2
