package hibernate

import (
	"os"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

const testRelease = "6.1.0-57-amd64"

// ourConfig is the config our builder writes.
func ourConfig(release string) cpio.Record {
	return cpio.StaticFile("etc/hibernate/initramfs.json", `{"format": 1, "kernel_release": "`+release+`", "modules": []}`+"\n", 0o644)
}

// ourInitramfs is what hibernate initramfs build makes: /init a link into u-root's busybox, the config.
func ourInitramfs(t *testing.T) []byte {
	return testutil.Compress(t, "zstd", testutil.CPIO(t, cpio.Symlink("init", "bbin/hibernate-init"),
		cpio.StaticFile("bbin/bb", "busybox", 0o755), ourConfig(testRelease)))
}

func writeInitramfs(tr *faketree.Tree, name string, data []byte) {
	tr.Write("proc/sys/kernel/osrelease", testRelease+"\n")
	tr.Write(name, string(data))
}

func TestCheckInitramfsFinds(t *testing.T) {
	sh := func(name string) cpio.Record { return cpio.StaticFile(name, "#!/bin/sh\n", 0o755) }
	for _, tc := range []struct {
		name, file, how string
		early           bool
		recs            []cpio.Record
		want            string
	}{
		{"ours, zstd after microcode", "boot/initrd.img-" + testRelease, "zstd", true,
			[]cpio.Record{cpio.Symlink("init", "bbin/hibernate-init"), ourConfig(testRelease)}, "hibernate's /init (etc/hibernate/initramfs.json for " + testRelease + ")"},
		{"ours, bringing up LUKS and LVM", "boot/initrd.img-" + testRelease, "zstd", false,
			[]cpio.Record{cpio.Symlink("init", "bbin/hibernate-init"), cpio.StaticFile("etc/hibernate/initramfs.json", `{"format": 2, "kernel_release": "`+testRelease+`", "volumes": [{"name": "vda3_crypt", "source": "UUID=x"}], "lvs": ["vg/root", "vg/swap_1"], "tools": {"lvm": "/usr/sbin/lvm", "cryptsetup": "/usr/sbin/cryptsetup"}}`, 0o644)},
			"; it unlocks vda3_crypt, activates vg/root vg/swap_1 (with cryptsetup lvm)"},
		{"ours for another kernel", "boot/initrd.img-" + testRelease, "zstd", false,
			[]cpio.Record{ourConfig("6.1.0-9-amd64")}, "not the running " + testRelease},
		{"ours without config, gzip", "boot/initramfs-" + testRelease + ".img", "gzip", false,
			[]cpio.Record{cpio.Symlink("init", "bbin/hibernate-init")}, "hibernate's /init (-> bbin/hibernate-init"},
		{"ours as a plain /init", "initrd.img-" + testRelease, "none", false,
			[]cpio.Record{cpio.StaticFile("init", "\x7fELF... init of hibernate starting on %s ...", 0o755)}, "hibernate's /init (no config"},
		{"initramfs-tools, xz", "boot/initrd.img-" + testRelease, "xz", true,
			[]cpio.Record{sh("init"), sh("scripts/local-premount/resume")}, "initramfs-tools' resume (/scripts/local-premount/resume)"},
		{"initramfs-tools conf.d, lz4", "boot/initrd.img-" + testRelease, "lz4", false,
			[]cpio.Record{sh("init"), cpio.StaticFile("conf/conf.d/resume", "RESUME=UUID=x\n", 0o644)}, "initramfs-tools' resume (/conf/conf.d/resume)"},
		{"dracut", "boot/initramfs-" + testRelease + ".img", "zstd", true,
			[]cpio.Record{cpio.Symlink("init", "usr/lib/systemd/systemd"), sh("usr/lib/dracut/hooks/cmdline/95-parse-resume.sh")}, "dracut's resume module (/usr/lib/dracut/hooks/cmdline/95-parse-resume.sh)"},
		{"dracut, old layout", "boot/initramfs-" + testRelease + ".img", "gzip", false,
			[]cpio.Record{sh("init"), sh("lib/dracut/hooks/pre-udev/30-resume-genrules.sh")}, "dracut's resume module (/lib/dracut/hooks/pre-udev/30-resume-genrules.sh)"},
		{"systemd", "boot/initrd.img-" + testRelease, "none", false,
			[]cpio.Record{cpio.Symlink("init", "usr/lib/systemd/systemd"), cpio.StaticFile("usr/lib/systemd/systemd-hibernate-resume", "elf", 0o755)}, "systemd-hibernate-resume (/usr/lib/systemd/systemd-hibernate-resume)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := ready(t)
			if err := os.Remove(tr.FS().Path("boot/initrd.img-" + testRelease)); err != nil {
				t.Fatal(err)
			}
			var data []byte
			if tc.early {
				data = testutil.Microcode(t)
			}
			data = append(data, testutil.Compress(t, tc.how, testutil.CPIO(t, tc.recs...))...)
			writeInitramfs(tr, tc.file, data)
			c := check(t, tr, "initramfs")
			if !c.OK || !strings.Contains(c.Detail, tc.want) || !strings.Contains(c.Detail, "/"+tc.file+" ("+tc.how) {
				t.Fatalf("check = %+v, want ok naming /%s (%s) and %q", c, tc.file, tc.how, tc.want)
			}
			if tc.early && !strings.Contains(c.Detail, "2 cpio archive(s)") {
				t.Fatalf("check = %+v, want the microcode archive counted", c)
			}
		})
	}
}

// With systemd-boot, the next boot loads the initramfs its entry names on the ESP (kernel-install's
// copy), not /boot's: that is the one read; an entry naming a missing one fails with the fix.
func TestCheckInitramfsOfSystemdBootEntry(t *testing.T) {
	tr := ready(t)
	tr.Write("boot/efi/EFI/systemd/systemd-bootx64.efi", "MZ")
	tr.Write("boot/efi/loader/entries/dcc0-"+testRelease+".conf", "version "+testRelease+"\nlinux /dcc0/"+testRelease+"/linux\ninitrd /dcc0/"+testRelease+"/initrd.img-"+testRelease+"\n")
	esp := "boot/efi/dcc0/" + testRelease + "/initrd.img-" + testRelease
	c := check(t, tr, "initramfs")
	if c.OK || !strings.Contains(c.Detail, "/"+esp+", which is not there") || !strings.Contains(c.Fix, "kernel-install") {
		t.Fatalf("check = %+v, want a failure naming the ESP's missing /%s", c, esp)
	}
	// The ESP's copy is still initramfs-tools' (kernel-install not run again): read as it is.
	writeInitramfs(tr, esp, testutil.Compress(t, "zstd", testutil.CPIO(t, cpio.StaticFile("init", "#!/bin/sh\n", 0o755),
		cpio.StaticFile("scripts/local-premount/resume", "#!/bin/sh\n", 0o755))))
	c = check(t, tr, "initramfs")
	if !c.OK || !strings.HasPrefix(c.Detail, "/"+esp+" (zstd") || !strings.Contains(c.Detail, "initramfs-tools' resume") {
		t.Fatalf("check = %+v, want the ESP's copy read", c)
	}
}
