package hibernate

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/hibernate-linux/hibernate/internal/swsusp"
	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func swapPage(t *testing.T) []byte {
	t.Helper()
	id, _ := swsusp.ParseUUID("6f1c2a7e-0d4b-4b8e-9a53-2f6c1d0e9b11")
	p, err := swsusp.MkswapPage(512<<20, swsusp.MkswapOptions{UUID: id, PageSize: swsusp.PageSize})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ready is a machine with a 512 MiB swap partition, active, and /sys/power/resume pointing at it.
func ready(t *testing.T) *faketree.Tree {
	tr := faketree.New(t)
	tr.Disk("vda", 254, faketree.Part{Size: 256 << 20}, faketree.Part{Size: 512 << 20, Content: swapPage(t)})
	tr.Swap("/dev/vda2                               partition\t524284\t\t0\t\t-2")
	tr.Write("sys/power/resume", "254:2\n")
	tr.Write("proc/sys/kernel/random/boot_id", "0c9f1d3e-aaaa-4bbb-8ccc-111122223333\n")
	stamp(t, tr, "0c9f1d3e-aaaa-4bbb-8ccc-111122223333")
	writeInitramfs(tr, "boot/initrd.img-"+testRelease, ourInitramfs(t))
	return tr
}

// stamp writes an image record of boot bootID of the running kernel on the fake vda2.
func stamp(t *testing.T, tr *faketree.Tree, bootID string) {
	t.Helper()
	stampOf(t, tr, testRelease, bootID)
}

// stampOf writes an image record of boot bootID of kernel release on the fake vda2.
func stampOf(t *testing.T, tr *faketree.Tree, release, bootID string) {
	t.Helper()
	f, err := os.OpenFile(tr.FS().Path("dev/vda2"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := swsusp.StampRecord(f, 0, swsusp.Record{KernelRelease: release, BootID: bootID}); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, tr *faketree.Tree, name string) CheckResult {
	t.Helper()
	for _, c := range Check(tr.FS()).Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s", name)
	return CheckResult{}
}

func TestCheckReady(t *testing.T) {
	rep := Check(ready(t).FS())
	if !rep.Ready {
		t.Fatalf("not ready: %+v", rep.Failed())
	}
}

func TestCheckFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(tr *faketree.Tree)
		check  string
		detail string
	}{
		{"no disk in state", func(tr *faketree.Tree) { tr.Write("sys/power/state", "freeze mem\n") }, "kernel", "not disk"},
		{"no swap", func(tr *faketree.Tree) { tr.Swap() }, "swap", "no active disk swap"},
		{"too little swap", func(tr *faketree.Tree) {
			tr.Meminfo(map[string]int64{"MemTotal": 4 << 20, "AnonPages": 700 << 10, "Shmem": 200 << 10})
		}, "swap", "the image needs up to 900 MiB"},
		{"zram only", func(tr *faketree.Tree) { tr.Swap("/dev/zram0 partition 1000000 0 100") }, "swap", "only zram swap (/dev/zram0)"},
		{"lockdown", func(tr *faketree.Tree) {
			tr.Write("sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
		}, "lockdown", "lockdown is integrity (Secure Boot is off: lockdown= on the command line"},
		{"lockdown under Secure Boot", func(tr *faketree.Tree) {
			tr.Write("sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
			tr.Write(secureBootVar, "\x06\x00\x00\x00\x01")
		}, "lockdown", "lockdown is integrity: Secure Boot is on"},
		{"lockdown, Secure Boot off", func(tr *faketree.Tree) {
			tr.Write("sys/kernel/security/lockdown", "none none [confidentiality]\n")
			tr.Write(secureBootVar, "\x06\x00\x00\x00\x00")
		}, "lockdown", "lockdown is confidentiality (Secure Boot is off"},
		{"nohibernate", func(tr *faketree.Tree) { tr.Write("proc/cmdline", "root=/dev/vda1 nohibernate\n") }, "cmdline", "nohibernate"},
		{"resume elsewhere", func(tr *faketree.Tree) { tr.Write("sys/power/resume", "8:3\n") }, "resume-device", "8:3 (resume_offset 0), which is not an active disk swap area"},
		{"resume unset, swap file only", func(tr *faketree.Tree) {
			tr.Write("sys/power/resume", "0:0\n")
			tr.Swap("/swapfile file 524284 0 -2")
		}, "resume-device", "unset and no active swap partition"},
		{"container", func(tr *faketree.Tree) { tr.Write("run/systemd/container", "lxc\n") }, "container", "lxc container"},
		{"record of another kernel, swap too full to restamp", func(tr *faketree.Tree) {
			stampOf(t, tr, "6.12.9-amd64", "another-boot")
			tr.Swap("/dev/vda2 partition 524284 200000 -2")
		}, "image-record", "would kexec into 6.12.9-amd64 to resume an image of " + testRelease},
		{"no initramfs", func(tr *faketree.Tree) {
			tr.Write("proc/sys/kernel/osrelease", "6.1.0-99-amd64\n")
		}, "initramfs", "no initramfs for the running kernel 6.1.0-99-amd64 (looked for /boot/initrd.img-6.1.0-99-amd64"},
		{"initramfs without resume support", func(tr *faketree.Tree) {
			writeInitramfs(tr, "boot/initrd.img-"+testRelease, testutil.Compress(t, "gzip", testutil.CPIO(t,
				cpio.StaticFile("init", "#!/bin/sh\nexec switch_root /root /sbin/init\n", 0o755), cpio.StaticFile("scripts/local-top/lvm2", "", 0o755))))
		}, "initramfs", "(gzip, 1 cpio archive(s), 4 entries) has nothing that resumes"},
		{"initramfs unreadable", func(tr *faketree.Tree) {
			writeInitramfs(tr, "boot/initrd.img-"+testRelease, []byte("MZ not an initramfs"))
		}, "initramfs", "neither a cpio archive nor a compression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := ready(t)
			tc.break_(tr)
			rep := Check(tr.FS())
			if rep.Ready {
				t.Fatal("ready, want not ready")
			}
			c := check(t, tr, tc.check)
			if c.OK || !strings.Contains(c.Detail, tc.detail) || c.Fix == "" {
				t.Fatalf("check %s = %+v, want failed with %q and a fix", tc.check, c, tc.detail)
			}
		})
	}
}

// The record is no reason to refuse where hibernate's /init will not need it: another
// initramfs boots next, the record is missing, or it names this same kernel.
func TestRecordRefusesOnlyWhenOurInitNeedsIt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(tr *faketree.Tree)
		detail string
	}{
		{"not our initramfs", func(tr *faketree.Tree) {
			tr.Write("proc/cmdline", "root=/dev/vda1 resume=/dev/vda2\n")
			stampOf(t, tr, "6.12.9-amd64", "another-boot")
			writeInitramfs(tr, "boot/initrd.img-"+testRelease, testutil.Compress(t, "gzip", testutil.CPIO(t,
				cpio.StaticFile("init", "#!/bin/sh\n", 0o755), cpio.StaticFile("scripts/local-premount/resume", "", 0o755))))
		}, "not needed: the initramfs is not hibernate's"},
		{"record of an earlier boot of this kernel", func(tr *faketree.Tree) { stamp(t, tr, "another-boot") }, "it names this kernel, " + testRelease},
		{"no record", func(tr *faketree.Tree) {
			f, err := os.OpenFile(tr.FS().Path("dev/vda2"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if cleared, err := swsusp.ClearRecord(f, 0); !cleared || err != nil {
				t.Fatal("no record cleared", err)
			}
		}, "no image record on /dev/vda2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := ready(t)
			tc.change(tr)
			tr.Swap("/dev/vda2 partition 524284 200000 -2") // too full to restamp
			rep := Check(tr.FS())
			c := check(t, tr, "image-record")
			if !rep.Ready || !c.OK || !strings.Contains(c.Detail, tc.detail) {
				t.Fatalf("ready %v, check %+v: want ok saying %q; failed: %+v", rep.Ready, c, tc.detail, rep.Failed())
			}
		})
	}
}

// The next boot must look where the image goes: each command line and boot configuration that
// names resume= (and the initramfs, when none does) must name that area.
func TestNextBoot(t *testing.T) {
	distro := func(tr *faketree.Tree, conf string) {
		writeInitramfs(tr, "boot/initrd.img-"+testRelease, testutil.Compress(t, "gzip", testutil.CPIO(t,
			cpio.StaticFile("init", "#!/bin/sh\n", 0o755), cpio.StaticFile("conf/conf.d/resume", conf, 0o644))))
	}
	for _, tc := range []struct {
		name   string
		change func(tr *faketree.Tree)
		ok     bool
		detail string
	}{
		{"our /init scans", func(tr *faketree.Tree) {}, true, "scans the disks"},
		{"resume= on the command line", func(tr *faketree.Tree) { tr.Write("proc/cmdline", "root=/dev/vda1 resume=/dev/vda2\n") }, true, "as /proc/cmdline say"},
		{"resume= of another device", func(tr *faketree.Tree) { tr.Write("proc/cmdline", "root=/dev/vda1 resume=/dev/vda1\n") }, false,
			"/proc/cmdline names resume=/dev/vda1, which is /dev/vda1 (254:1)"},
		{"resume= of no device", func(tr *faketree.Tree) { tr.Write("proc/cmdline", "resume=UUID=0000-gone\n") }, false, "which is no device here"},
		{"GRUB's defaults disagree", func(tr *faketree.Tree) {
			tr.Write("proc/cmdline", "root=/dev/vda1 resume=/dev/vda2\n")
			tr.Write("etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=/dev/vda1\"\n")
		}, false, "/etc/default/grub names resume=/dev/vda1"},
		{"GRUB's menu not updated", func(tr *faketree.Tree) {
			tr.Write("etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=/dev/vda2\"\n")
			tr.Write("boot/grub/grub.cfg", "menuentry 'Debian' {\n\tlinux /boot/vmlinuz-R root=/dev/vda1 ro resume=/dev/vda1\n}\n")
		}, false, "/boot/grub/grub.cfg names resume=/dev/vda1"},
		{"systemd-boot's entry not written again", func(tr *faketree.Tree) {
			tr.Write("proc/cmdline", "root=/dev/vda1 resume=/dev/vda2\n")
			tr.Write("etc/kernel/cmdline", "root=/dev/vda1 resume=/dev/vda2\n")
			tr.Write("boot/efi/EFI/systemd/systemd-bootx64.efi", "MZ")
			tr.Write("boot/efi/loader/entries/dcc0-R.conf", "title Debian\nversion R\noptions root=/dev/vda1 resume=/dev/vda1\nlinux /dcc0/R/linux\n")
		}, false, "/boot/efi/loader/entries/dcc0-R.conf names resume=/dev/vda1"},
		{"systemd-boot's entry agrees", func(tr *faketree.Tree) {
			tr.Write("boot/efi/EFI/systemd/systemd-bootx64.efi", "MZ")
			tr.Write("boot/efi/loader/entries/dcc0-R.conf", "title Debian\nversion R\noptions root=/dev/vda1 resume=/dev/vda2\nlinux /dcc0/R/linux\n")
		}, true, "as /boot/efi/loader/entries/dcc0-R.conf say"},
		{"a swap file without resume_offset", func(tr *faketree.Tree) {
			tr.Write("sys/power/resume_offset", "34816\n")
			tr.Write("proc/cmdline", "root=/dev/vda1 resume=/dev/vda2\n")
		}, false, "has resume=/dev/vda2 but no resume_offset= (the swap file's header is at page 34816)"},
		{"initramfs-tools' RESUME", func(tr *faketree.Tree) { distro(tr, "RESUME=/dev/vda2\n") }, true, "as the initramfs"},
		{"initramfs-tools' RESUME elsewhere", func(tr *faketree.Tree) { distro(tr, "RESUME=/dev/vda1\n") }, false, "the initramfs (no resume= on the command line) names resume=/dev/vda1"},
		{"nothing names it", func(tr *faketree.Tree) { distro(tr, "RESUME=none\n") }, false, "nothing tells the next boot to look there"},
		{"our /init cannot scan for a swap file", func(tr *faketree.Tree) { tr.Write("sys/power/resume_offset", "34816\n") }, false, "cannot be found by a scan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := ready(t)
			tc.change(tr)
			c := check(t, tr, "next-boot")
			if c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) || (!c.OK && c.Fix == "") {
				t.Fatalf("next-boot = %+v, want ok %v saying %q", c, tc.ok, tc.detail)
			}
		})
	}
}

func TestCheckResumeUnsetButSettable(t *testing.T) {
	tr := ready(t)
	tr.Write("sys/power/resume", "0:0\n")
	rep := Check(tr.FS())
	if !rep.Ready || !rep.SetResume || rep.ResumeDevT != "254:2" {
		t.Fatalf("report %+v: want ready, resume to be set to 254:2", rep)
	}
}

func TestReportTimes(t *testing.T) {
	ms := time.Millisecond
	r := Report{Checks: []CheckResult{
		{Name: "kernel", Took: 300 * time.Microsecond},
		{Name: "initramfs", Took: 15 * ms},
		{Name: "swap", Took: 2 * ms},
		{Name: "next-boot", Took: 20 * ms},
	}}
	if got, want := r.Times(), "next-boot 20 ms, initramfs 15 ms, swap 2 ms"; got != want {
		t.Errorf("Times() = %q, want %q", got, want)
	}
	if got, want := (Report{Checks: r.Checks[:1]}).Times(), "each under 1 ms"; got != want {
		t.Errorf("Times() = %q, want %q", got, want)
	}
}
