package testutil

import (
	"bytes"
	"compress/gzip"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"
)

// CPIO is one newc archive of recs (their parent folders first), with its trailer.
func CPIO(t testing.TB, recs ...cpio.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Compress compresses data as an initramfs generator would: none, gzip, zstd, xz (CRC32, as the
// kernel wants) or lz4 (the legacy frame the kernel reads).
func Compress(t testing.TB, how string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch how {
	case "none":
		return data
	case "gzip":
		w = gzip.NewWriter(&b)
	case "zstd":
		w, err = zstd.NewWriter(&b)
	case "xz":
		w, err = xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&b)
	case "lz4":
		lw := lz4.NewWriter(&b)
		err = lw.Apply(lz4.LegacyOption(true))
		w = lw
	default:
		t.Fatalf("compression %s", how)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Microcode is an early, uncompressed archive as initramfs-tools and dracut put first.
func Microcode(t testing.TB) []byte {
	return CPIO(t, cpio.StaticFile("kernel/x86/microcode/GenuineIntel.bin", strings.Repeat("\x01", 1000), 0o644))
}

// DracutInitrdRelease is the initrd-release of Debian 13's dracut (106-6): its base module
// writes it last, over the one its systemd module derived from the host's os-release, so that
// systemd in the initrd takes itself for a system "dracut" (dracut-ng issue 870, systemd issue
// 36888). Read from the initrd dracut built in the systemd-boot-dracut-trixie root.
const DracutInitrdRelease = "NAME=dracut\nID=dracut\nVERSION_ID=\"106-6\"\nANSI_COLOR=\"0;34\"\n"

// DracutSystemdInitrd is the part of Debian 13's dracut initrd (dracut 106-6, systemd 257, Linux
// 6.12) that decides whether it resumes from systemd's HibernateLocation: the names and links
// as in the real image (/init a link to systemd, lib to usr/lib, the resume module's files,
// efivarfs's module, initrd-release and the links to it), initrd-release holding osRelease, and
// without the names in drop. Every file but initrd-release is a placeholder.
func DracutSystemdInitrd(osRelease string, drop ...string) []cpio.Record {
	recs := []cpio.Record{
		cpio.Symlink("init", "usr/lib/systemd/systemd"),
		cpio.Symlink("lib", "usr/lib"),
		cpio.StaticFile("usr/lib/systemd/systemd", "elf", 0o755),
		cpio.StaticFile("usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-257.so", "elf", 0o755),
		cpio.StaticFile("usr/lib/systemd/systemd-hibernate-resume", "elf", 0o755),
		cpio.StaticFile("usr/lib/systemd/system-generators/systemd-hibernate-resume-generator", "elf", 0o755),
		cpio.StaticFile("usr/lib/systemd/system/systemd-hibernate-resume.service", "[Unit]\n", 0o644),
		cpio.StaticFile("usr/lib/modules/6.12.117+deb13-amd64/kernel/fs/efivarfs/efivarfs.ko.xz", "xz", 0o644),
		cpio.StaticFile("usr/lib/initrd-release", osRelease, 0o644),
		cpio.Symlink("etc/initrd-release", "../usr/lib/initrd-release"),
		cpio.Symlink("etc/os-release", "initrd-release"),
		cpio.Symlink("usr/lib/os-release", "initrd-release"),
	}
	var kept []cpio.Record
	for _, r := range recs {
		if !slices.Contains(drop, r.Name) {
			kept = append(kept, r)
		}
	}
	return kept
}
