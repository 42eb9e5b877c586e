package hibernate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// hook writes a test's own script below the fake root: it appends "name phase action
// $SYSTEMD_SLEEP_ACTION" to the tree's hooks.log, then runs body.
func hook(t *testing.T, tr *faketree.Tree, p, body string) {
	t.Helper()
	log := filepath.Join(tr.Root, "hooks.log")
	tr.Write(p, "#!/bin/sh\necho \"$(basename $0) $1 $2 $SYSTEMD_SLEEP_ACTION\" >> "+log+"\n"+body+"\n")
	if err := os.Chmod(tr.FS().Path(p), 0o755); err != nil {
		t.Fatal(err)
	}
}

func hookLog(tr *faketree.Tree) string {
	b, _ := os.ReadFile(filepath.Join(tr.Root, "hooks.log"))
	return strings.TrimSpace(string(b))
}

// logWrites is the write seam: each write is done and also put in hooks.log.
func logWrites(tr *faketree.Tree) func(fs sysfs.FS, file, value string) error {
	return func(fs sysfs.FS, file, value string) error {
		f, err := os.OpenFile(filepath.Join(tr.Root, "hooks.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		f.WriteString("write " + value + " to /" + file + "\n")
		f.Close()
		return fs.WriteString(file, value)
	}
}

func TestFindHooksOrderAndOverride(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/50-ours", "")
	hook(t, tr, "usr/lib/systemd/system-sleep/10-vendor", "")
	hook(t, tr, "usr/lib/systemd/system-sleep/20-masked", "")
	hook(t, tr, "usr/lib/systemd/system-sleep/30-overridden", "")
	hook(t, tr, "etc/systemd/system-sleep/30-overridden", "")
	tr.Write("etc/systemd/system-sleep/20-masked", "") // not executable: masks the vendor's
	tr.Write("etc/hibernate/hooks.d/README", "not a hook\n")
	got, refused, err := findHooks(tr.FS())
	if err != nil || len(refused) != 0 {
		t.Fatal(err, refused)
	}
	want := "/usr/lib/systemd/system-sleep/10-vendor /etc/systemd/system-sleep/30-overridden /etc/hibernate/hooks.d/50-ours"
	if strings.Join(got, " ") != want {
		t.Fatalf("hooks %v\nwant %s", got, want)
	}
}

// Pre hooks, in name order, before the write of disk; post hooks after, once the values are back.
func TestNowRunsHooksAroundTheWrite(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/10-first", "")
	hook(t, tr, "usr/lib/systemd/system-sleep/20-second", `[ "$1" = post ] && cat `+tr.FS().Path("sys/power/disk")+` >> `+filepath.Join(tr.Root, "hooks.log")+`; exit 0`)
	o := Options{Mode: "shutdown", write: logWrites(tr)}
	res, err := Now(tr.FS(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"10-first pre hibernate hibernate",
		"20-second pre hibernate hibernate",
		"write shutdown to /sys/power/disk",
		"write 297795584 to /sys/power/image_size", // auto: faketree's 284 MiB held
		"write disk to /sys/power/state",
		"10-first post hibernate hibernate",
		"20-second post hibernate hibernate",
		"platform", // the post hook sees /sys/power/disk put back
	}, "\n")
	if got := hookLog(tr); got != want {
		t.Fatalf("hooks.log:\n%s\nwant:\n%s", got, want)
	}
	if len(res.Hooks) != 4 || !res.Hooks[3].OK() || res.Hooks[3].Path != "/usr/lib/systemd/system-sleep/20-second" || strings.Join(res.Hooks[3].Args, " ") != "post hibernate" {
		t.Fatalf("result hooks %+v", res.Hooks)
	}
}

func TestNowDryRunListsHooks(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/systemd/system-sleep/x", "")
	res, err := Now(tr.FS(), Options{Mode: "suspend", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	plan := res.Plan.Lines()
	if plan[0] != "run /etc/systemd/system-sleep/x pre hybrid-sleep" || plan[len(plan)-1] != "run /etc/systemd/system-sleep/x post hybrid-sleep" {
		t.Fatalf("plan %q", plan)
	}
	if hookLog(tr) != "" {
		t.Fatalf("a dry run ran a hook: %s", hookLog(tr))
	}
}

// A failing pre hook is said, with its exit and output, and the hibernation goes on, as
// systemd-sleep does: every pre hook, the write of disk, every post hook.
func TestNowPreHookFailureGoesOn(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/10-ok", "")
	hook(t, tr, "etc/hibernate/hooks.d/20-fails", `[ "$1" = pre ] && { echo "cannot unmount /mnt/nfs" >&2; exit 3; }; exit 0`)
	hook(t, tr, "etc/hibernate/hooks.d/30-later", "")
	res, err := Now(tr.FS(), Options{Mode: "shutdown", ImageSize: "0", write: logWrites(tr)})
	if err != nil {
		t.Fatalf("Now = %v, want the hibernation to go on", err)
	}
	if len(res.Hooks) != 6 || res.Hooks[1].String() != "/etc/hibernate/hooks.d/20-fails pre hibernate: exit 3; output: cannot unmount /mnt/nfs" {
		t.Fatalf("hook runs %v, want the failure named with its exit and output", res.Hooks)
	}
	want := "10-ok pre hibernate hibernate\n20-fails pre hibernate hibernate\n30-later pre hibernate hibernate\n" +
		"write shutdown to /sys/power/disk\nwrite 0 to /sys/power/image_size\nwrite disk to /sys/power/state\n" +
		"10-ok post hibernate hibernate\n20-fails post hibernate hibernate\n30-later post hibernate hibernate"
	if got := hookLog(tr); got != want {
		t.Fatalf("hooks.log:\n%s\nwant:\n%s", got, want)
	}
}

// A hook that leaves a child holding its output (a daemon it restarted) is done when it exits.
func TestHookWithBackgroundChild(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/10-daemon", `[ "$1" = pre ] && { (sleep 3; echo late) & echo started; }; exit 0`)
	start := time.Now()
	res, err := Now(tr.FS(), Options{Mode: "shutdown"})
	if err != nil || !res.Hooks[0].OK() || !strings.Contains(res.Hooks[0].Output, "started") {
		t.Fatalf("Now = %v, hooks %v", err, res.Hooks)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("took %s: waited for the hook's child", d)
	}
}

// A hook that another user could have changed is not run as root: said, with the fix.
func TestUnsafeHooksNotRun(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/10-open", "")
	if err := os.Chmod(tr.FS().Path("etc/hibernate/hooks.d/10-open"), 0o777); err != nil {
		t.Fatal(err)
	}
	hook(t, tr, "etc/systemd/system-sleep/20-in-open-dir", "")
	if err := os.Chmod(tr.FS().Path("etc/systemd/system-sleep"), 0o777); err != nil {
		t.Fatal(err)
	}
	hook(t, tr, "usr/lib/systemd/system-sleep/30-users", "")
	hook(t, tr, "usr/lib/systemd/system-sleep/40-fine", "")
	if os.Getuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	if err := os.Chown(tr.FS().Path("usr/lib/systemd/system-sleep/30-users"), 1234, 1234); err != nil {
		t.Fatal(err)
	}
	res, err := Now(tr.FS(), Options{Mode: "shutdown"})
	if err != nil {
		t.Fatal(err)
	}
	if got := hookLog(tr); got != "40-fine pre hibernate hibernate\n40-fine post hibernate hibernate" {
		t.Fatalf("hooks.log:\n%s\nwant only 40-fine", got)
	}
	var said []string
	for _, h := range res.Hooks {
		if h.Err != "" {
			said = append(said, h.Err)
		}
	}
	got := strings.Join(said, "\n")
	for _, want := range []string{"10-open: not run: /etc/hibernate/hooks.d/10-open is writable by group or others (mode 0777)",
		"fix: chmod go-w /etc/systemd/system-sleep", "30-users: not run: /usr/lib/systemd/system-sleep/30-users belongs to uid 1234",
		"fix: chown root /usr/lib/systemd/system-sleep/30-users"} {
		if !strings.Contains(got, want) {
			t.Errorf("refusals:\n%s\nwant %q", got, want)
		}
	}
}

// SIGINT before the write of disk (here: sent by a pre hook): no write of disk, the settings
// back, the post hooks run, and the error says so.
func TestNowInterruptedBeforeTheWrite(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/10-interrupts", `[ "$1" = pre ] && kill -INT $PPID; sleep 0.3; exit 0`)
	_, err := Now(tr.FS(), Options{Mode: "shutdown", write: logWrites(tr)})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Now = %v, want ErrInterrupted", err)
	}
	if got := hookLog(tr); got != "10-interrupts pre hibernate hibernate\n10-interrupts post hibernate hibernate" {
		t.Fatalf("hooks.log:\n%s\nwant no write and the post hook", got)
	}
	if got := tr.Read("sys/power/state"); got != "freeze mem disk" {
		t.Fatalf("state written: %q", got)
	}
}

// A failure after the pre hooks (the write of disk refused): values back, post hooks run.
func TestNowFailedWriteRunsPostHooks(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/10-ok", "")
	o := Options{Mode: "shutdown"}
	o.write = func(fs sysfs.FS, file, value string) error {
		if file == "sys/power/state" {
			return errors.New("EBUSY")
		}
		return fs.WriteString(file, value)
	}
	if _, err := Now(tr.FS(), o); err == nil {
		t.Fatal("Now succeeded")
	}
	if got := hookLog(tr); got != "10-ok pre hibernate hibernate\n10-ok post hibernate hibernate" {
		t.Fatalf("hooks.log:\n%s", got)
	}
	if got := tr.Read("sys/power/disk"); got != "platform" {
		t.Fatalf("/sys/power/disk = %q, want platform back", got)
	}
}

func TestNowHookTimeout(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/slow", `[ "$1" = pre ] && sleep 20; exit 0`)
	start := time.Now()
	res, err := Now(tr.FS(), Options{Mode: "shutdown", HookTimeout: 300 * time.Millisecond})
	if err != nil || len(res.Hooks) == 0 || !strings.Contains(res.Hooks[0].Err, "killed after the 300ms timeout") {
		t.Fatalf("Now = %v, hooks %v: want the timeout said and the hibernation going on", err, res.Hooks)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s: the hook's sleep was not killed", d)
	}
}

func TestNowNoHooks(t *testing.T) {
	tr := ready(t)
	hook(t, tr, "etc/hibernate/hooks.d/x", "exit 1")
	res, err := Now(tr.FS(), Options{Mode: "shutdown", NoHooks: true})
	if err != nil || len(res.Hooks) != 0 || hookLog(tr) != "" {
		t.Fatalf("Now = %+v, %v; hooks.log %q", res.Hooks, err, hookLog(tr))
	}
}

func TestRestoreFromLog(t *testing.T) {
	lines := []string{
		"PM: hibernation: Read 1000 kbytes in 9.99 seconds (0.10 MB/s)", // an older resume
		"hibernate: writing disk to /sys/power/state: the machine hibernates now",
		"PM: hibernation: hibernation entry",
		"PM: hibernation: Read 168644 kbytes in 2.74 seconds (61.54 MB/s)",
		"PM: hibernation: hibernation exit",
	}
	d, line, ok := restoreFromLog(lines)
	if !ok || d != 2740*time.Millisecond || line != "PM: hibernation: Read 168644 kbytes in 2.74 seconds (61.54 MB/s)" {
		t.Fatalf("restoreFromLog = %s %q %v", d, line, ok)
	}
	// What 6.1 logs after a resume: no duration (the booting kernel printed it, and its log is gone).
	if _, _, ok := restoreFromLog(append(lines[:3:3], "Restarting tasks ... done.", "PM: hibernation: hibernation exit")); ok {
		t.Fatal("found a restore time after the marker where there is none")
	}
}

// The kernel log read through the root: /dev/kmsg records (prio,seq,usec,flags;text).
func TestNowReportsRestoreTime(t *testing.T) {
	tr := ready(t)
	tr.Write("dev/kmsg", "6,100,5000000,-;PM: hibernation: Read 10 kbytes in 1.00 seconds\n SUBSYSTEM=x\n")
	o := Options{Mode: "shutdown"}
	o.write = func(fs sysfs.FS, file, value string) error {
		if file == "sys/power/state" {
			f, _ := os.OpenFile(fs.Path("dev/kmsg"), os.O_WRONLY|os.O_APPEND, 0)
			f.WriteString("6,120,9000000,-;PM: hibernation: Read 168644 kbytes in 2.74 seconds (61.54 MB/s)\n")
			f.Close()
		}
		return fs.WriteString(file, value)
	}
	res, err := Now(tr.FS(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Restore != 2740*time.Millisecond || !strings.HasPrefix(res.RestoreLog, "PM: hibernation: Read 168644 kbytes") {
		t.Fatalf("restore %s %q", res.Restore, res.RestoreLog)
	}
}
