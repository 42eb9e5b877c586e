package swapsetup

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func TestSetupTwiceThenUndo(t *testing.T) {
	tr := machine(t, nil)
	bootFiles(tr)
	sw := &testutil.Swapper{}
	o := Options{Device: "/dev/vda2", Priority: 3, Fstab: true, WriteBootConfig: true}
	res, err := Setup(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	want := "resume=UUID=" + res.UUID
	if res.KernelParams != want {
		t.Fatalf("params %q", res.KernelParams)
	}
	check := func(when string) {
		t.Helper()
		if got := tr.Read("etc/default/grub"); !strings.Contains(got, `GRUB_CMDLINE_LINUX_DEFAULT="quiet `+want+`"`) || strings.Contains(got, "/dev/old") {
			t.Fatalf("%s: grub:\n%s", when, got)
		}
		if got := tr.Read("etc/kernel/cmdline"); got != "root=/dev/vda1 ro "+want+" quiet" {
			t.Fatalf("%s: kernel cmdline %q", when, got)
		}
		if got := tr.Read("etc/fstab"); strings.Count(got, "UUID="+res.UUID+" none swap defaults,pri=3 0 0") != 1 {
			t.Fatalf("%s: fstab:\n%s", when, got)
		}
		if got := tr.Read("etc/hibernate/resume.json"); !strings.Contains(got, `"resume": "UUID=`+res.UUID+`"`) || strings.Contains(got, "resume_offset") {
			t.Fatalf("%s: our config %s", when, got)
		}
		if tr.Read("etc/default/grub.hibernate-backup") != strings.TrimSpace(grubText) || tr.Read("etc/kernel/cmdline.hibernate-backup") != strings.TrimSpace(cmdlineText) {
			t.Fatalf("%s: backups are not the originals", when)
		}
	}
	check("first run")
	// As the kernel would show it after swapon.
	tr.Swap("/dev/vda2 partition 65532 0 3")
	again, err := Setup(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	check("second run")
	if again.Made || len(sw.On) != 1 || again.UUID != res.UUID {
		t.Fatalf("second run %+v, swapon %v", again, sw.On)
	}
	for _, a := range again.Actions {
		if !strings.HasPrefix(a, "write 0 to /sys/power/resume_offset") && !strings.HasPrefix(a, "record what") {
			t.Fatalf("second run changed something: %q", a)
		}
	}

	// Dry run of the undo: says everything, changes nothing.
	plan, err := Undo(tr.FS(), sw, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Actions) < 6 || !tr.FS().Exists(StateName) {
		t.Fatalf("undo plan %q", plan.Actions)
	}
	check("undo dry run")

	sw.Off = nil
	if _, err := Undo(tr.FS(), sw, false); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"etc/default/grub": grubText, "etc/kernel/cmdline": cmdlineText, "etc/fstab": fstabText} {
		if got, _ := os.ReadFile(tr.FS().Path(name)); string(got) != want {
			t.Errorf("after undo %s = %q, want %q", name, got, want)
		}
	}
	if tr.FS().Exists("etc/hibernate/resume.json") || tr.FS().Exists(StateName) {
		t.Error("undo left our config or the state file")
	}
	if len(sw.Off) != 1 || sw.Off[0] != "/dev/vda2" {
		t.Errorf("swapoff %v", sw.Off)
	}
	b, _ := os.ReadFile(tr.FS().Path("dev/vda2"))
	if !bytes.Equal(b[:4096], make([]byte, 4096)) {
		t.Error("undo did not put back the first page")
	}
	if _, err := Undo(tr.FS(), sw, false); err == nil || !strings.Contains(err.Error(), "nothing to undo") {
		t.Errorf("second undo: %v", err)
	}
}

func TestSwapFileSetupUndo(t *testing.T) {
	tr := faketree.New(t)
	loopFS(t, tr, "ext4", 128, "", "-b", "4096")
	tr.Write("etc/fstab", fstabText)
	tr.Write("etc/kernel/cmdline", cmdlineText)
	sw := &testutil.Swapper{}
	o := Options{File: "/mnt/swapfile", Size: 16 << 20, Priority: -1, Fstab: true, WriteBootConfig: true}
	res, err := Setup(tr.FS(), sw, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.KernelParams, "resume=UUID=") || !strings.Contains(tr.Read("etc/kernel/cmdline"), res.KernelParams) ||
		!strings.Contains(tr.Read("etc/fstab"), "/mnt/swapfile none swap defaults 0 0") {
		t.Fatalf("%+v\ncmdline %q\nfstab %q", res, tr.Read("etc/kernel/cmdline"), tr.Read("etc/fstab"))
	}
	tr.Swap("/mnt/swapfile file 16380 0 -2")
	if _, err := Setup(tr.FS(), sw, o); err != nil {
		t.Fatal(err)
	}
	if strings.Count(tr.Read("etc/fstab"), "/mnt/swapfile") != 1 {
		t.Fatalf("fstab after two runs:\n%s", tr.Read("etc/fstab"))
	}
	if _, err := Setup(tr.FS(), sw, Options{File: "/mnt/other", Size: 16 << 20, Priority: -1}); err == nil || !strings.Contains(err.Error(), "--undo") {
		t.Fatalf("setup of another swap over a recorded one: %v", err)
	}
	if _, err := Undo(tr.FS(), sw, false); err != nil {
		t.Fatal(err)
	}
	if tr.FS().Exists("mnt/swapfile") || tr.Read("etc/fstab") != strings.TrimSpace(fstabText) || tr.Read("etc/kernel/cmdline") != strings.TrimSpace(cmdlineText) {
		t.Fatal("undo left the file, the fstab line or the parameters")
	}
	if len(sw.Off) != 1 || sw.Off[0] != "/mnt/swapfile" {
		t.Fatalf("swapoff %v", sw.Off)
	}
}

// systemd-boot without /etc/kernel/cmdline (Debian 13 with the systemd-boot package): setup makes
// it from the running command line (without BOOT_IMAGE= and initrd=, as kernel-install reads it),
// says to have kernel-install write the entries, and --undo removes it while it says just that;
// changed since, it keeps the file and takes only setup's parameters out.
func TestSetupMakesKernelCmdlineForSystemdBoot(t *testing.T) {
	for _, edited := range []bool{false, true} {
		tr := machine(t, nil)
		tr.Write("etc/fstab", fstabText)
		tr.Write("boot/efi/EFI/systemd/systemd-bootx64.efi", "MZ")
		tr.Write("proc/cmdline", `initrd=\6d1f\6.12.57+deb13-amd64\initrd.img-6.12.57+deb13-amd64 BOOT_IMAGE=/vmlinuz root=UUID=0a3e ro console=ttyS0,115200 resume=/dev/old quiet`)
		sw := &testutil.Swapper{}
		res, err := Setup(tr.FS(), sw, Options{Device: "/dev/vda2", Priority: -1, WriteBootConfig: true})
		if err != nil {
			t.Fatal(err)
		}
		want := "root=UUID=0a3e ro console=ttyS0,115200 " + res.KernelParams + " quiet"
		if got := tr.Read("etc/kernel/cmdline"); got != want {
			t.Fatalf("/etc/kernel/cmdline %q, want %q", got, want)
		}
		if tr.FS().Exists("etc/kernel/cmdline" + backupSuffix) {
			t.Error("a backup of a file that was not there")
		}
		if !strings.Contains(strings.Join(res.Notes, "\n"), "systemd-boot (on /boot/efi) takes each entry's options from /etc/kernel/cmdline") {
			t.Errorf("no word of kernel-install: %q", res.Notes)
		}
		if edited {
			tr.Write("etc/kernel/cmdline", want+" mitigations=off")
		}
		if _, err := Undo(tr.FS(), sw, false); err != nil {
			t.Fatal(err)
		}
		switch got := tr.FS().Exists("etc/kernel/cmdline"); {
		case !edited && got:
			t.Errorf("undo left the /etc/kernel/cmdline setup made: %q", tr.Read("etc/kernel/cmdline"))
		case edited && tr.Read("etc/kernel/cmdline") != "root=UUID=0a3e ro console=ttyS0,115200 quiet mitigations=off":
			t.Errorf("undo of an edited file: %q", tr.Read("etc/kernel/cmdline"))
		}
	}
}

// Without systemd-boot, and without /etc/kernel/cmdline, none is made.
func TestSetupMakesNoKernelCmdlineWithoutSystemdBoot(t *testing.T) {
	tr := machine(t, nil)
	tr.Write("proc/cmdline", "root=UUID=0a3e ro")
	if _, err := Setup(tr.FS(), &testutil.Swapper{}, Options{Device: "/dev/vda2", Priority: -1, WriteBootConfig: true}); err != nil {
		t.Fatal(err)
	}
	if tr.FS().Exists("etc/kernel/cmdline") {
		t.Errorf("made /etc/kernel/cmdline: %q", tr.Read("etc/kernel/cmdline"))
	}
}
