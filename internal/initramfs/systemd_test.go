package initramfs

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/testutil"
)

func TestSystemd(t *testing.T) {
	inspect := func(recs ...cpio.Record) Contents {
		ic, err := Inspect(bytes.NewReader(testutil.Compress(t, "zstd", testutil.CPIO(t, recs...))))
		if err != nil {
			t.Fatal(err)
		}
		return ic
	}
	ic := inspect(testutil.DracutSystemdInitrd(testutil.DracutInitrdRelease)...)
	sd, ok := ic.Systemd()
	want := SystemdInitrd{Version: 257, Resume: "usr/lib/systemd/systemd-hibernate-resume",
		Generator: "usr/lib/systemd/system-generators/systemd-hibernate-resume-generator",
		Unit:      "usr/lib/systemd/system/systemd-hibernate-resume.service",
		Efivarfs:  "usr/lib/modules/6.12.117+deb13-amd64/kernel/fs/efivarfs/efivarfs.ko.xz", OSReleasePath: "/etc/os-release"}
	if !ok || string(sd.OSRelease) != testutil.DracutInitrdRelease {
		t.Fatalf("Systemd() = %+v, %v; want its initrd-release through etc/os-release", sd, ok)
	}
	sd.OSRelease = nil
	if !reflect.DeepEqual(sd, want) {
		t.Fatalf("Systemd() = %+v\nwant %+v", sd, want)
	}

	// Through lib -> usr/lib, and /usr/lib/os-release when /etc has none; a versioned library name.
	ic = inspect(cpio.Symlink("init", "/lib/systemd/systemd"), cpio.Symlink("lib", "usr/lib"),
		cpio.StaticFile("usr/lib/systemd/systemd", "elf", 0o755),
		cpio.StaticFile("usr/lib/systemd/libsystemd-shared-255.4-1ubuntu8.so", "elf", 0o755),
		cpio.StaticFile("usr/lib/os-release", "ID=ubuntu\n", 0o644))
	if sd, ok := ic.Systemd(); !ok || sd.Version != 255 || sd.OSReleasePath != "/usr/lib/os-release" || sd.Resume != "" {
		t.Fatalf("Systemd() = %+v, %v; want systemd 255, /usr/lib/os-release, no resume", sd, ok)
	}

	// Not systemd's: a shell /init, ours, a dangling /init, a link loop.
	for name, recs := range map[string][]cpio.Record{
		"a shell /init":  {cpio.StaticFile("init", "#!/bin/sh\n", 0o755), cpio.StaticFile("usr/lib/systemd/systemd", "elf", 0o755)},
		"ours":           {cpio.Symlink("init", "bbin/hibernate-init"), cpio.StaticFile("bbin/hibernate-init", "elf", 0o755)},
		"dangling /init": {cpio.Symlink("init", "usr/lib/systemd/systemd")},
		"a link loop":    {cpio.Symlink("init", "a"), cpio.Symlink("a", "init")},
	} {
		if sd, ok := inspect(recs...).Systemd(); ok {
			t.Errorf("%s: Systemd() = %+v, want not systemd", name, sd)
		}
	}

	// os-release links that lead nowhere: no os-release, as systemd would find none.
	ic = inspect(testutil.DracutSystemdInitrd("", "usr/lib/initrd-release")...)
	if sd, ok := ic.Systemd(); !ok || sd.OSRelease != nil {
		t.Fatalf("Systemd() = %+v, %v; want no os-release", sd, ok)
	}
}
