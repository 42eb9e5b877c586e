package scenario

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// zramSwap is the daily swap of the zram guest: a Fedora-like machine's, zram-generator's
// priority.
const (
	zramSize     = "256M"
	zramPriority = "100"
)

// A machine whose only daily swap is zram, where systemd refuses hibernation (its issue 34866),
// with a hibernation file made by `setup --file /hibfile --hibernate-only`:
//   - setup leaves the file inactive; zram is still the only active swap;
//   - check counts the file and says hibernate now activates it;
//   - hibernate now activates it, the kernel writes the image there (read from the host, with
//     the guest off), the guest resumes with its job;
//   - after the resume the file is inactive again, zram active at its priority and size;
//   - with the guest off, the file's header read from the host is a plain swap area again.
func TestZramHibernationFile(t *testing.T) {
	ctx := timeout(t, 5*time.Minute)
	m := newMachine(t, ctx, HibernationFile("/hibfile"), Files(zramModules(t)...))
	vm, _ := boot(t, ctx, m, "")
	if _, err := run(ctx, vm, GuestAgentInit, "insmod", "/root/zsmalloc.ko", "/root/zram.ko"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, vm, GuestAgentInit, "zram-swap", zramSize, zramPriority); err != nil {
		t.Fatal(err)
	}
	zram := zramState(t, ctx, vm)
	do(t, ctx, vm, m.SetupSwap)
	if got := activeSwaps(t, ctx, vm); !slices.Equal(got, []string{"/dev/zram0"}) {
		t.Fatalf("after setup --hibernate-only the active swaps are %v: want zram0 alone", got)
	}
	r, err := run(ctx, vm, m.Command("check", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Ready           bool   `json:"ready"`
		HibernationFile string `json:"hibernation_file"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || !rep.Ready || rep.HibernationFile != "/hibfile" {
		t.Fatalf("hibernate check --json: %v: want ready, with the hibernation file /hibfile to activate:\n%s", err, r.Stdout)
	}
	do(t, ctx, vm, m.HibernateCheck, m.StartJob, m.HibernateNow, m.CheckImage)
	vm2 := resumeBoot(t, ctx, m, m.Setup.KernelParams)
	said := nowFinished(t, ctx, vm2)
	for _, line := range []string{"activating the hibernation file /hibfile", "deactivated the hibernation file /hibfile"} {
		if !strings.Contains(said, line) {
			t.Errorf("hibernate now did not say %q:\n%s", line, said)
		}
	}
	if got := activeSwaps(t, ctx, vm2); !slices.Equal(got, []string{"/dev/zram0"}) {
		t.Fatalf("after the resume the active swaps are %v: want zram0 alone, the hibernation file inactive again\nhibernate now said:\n%s", got, said)
	}
	if after := zramState(t, ctx, vm2); after != zram {
		t.Errorf("zram before the hibernation:\n%s\nafter the resume:\n%s", zram, after)
	}
	powerOff(t, ctx, vm2)
	area, err := m.SwapArea()
	if err != nil {
		t.Fatal(err)
	}
	if area.Kind() != "swap" || area.HasImage() {
		t.Fatalf("after the resume /hibfile holds %s: want a plain swap area again", area.Kind())
	}
	t.Logf("resumed in %s from /hibfile (resume_offset %d); after: %s, zram0 as before (%s)", m.Summary.ResumeTime, m.Setup.ResumeOffset, area.Kind(), strings.ReplaceAll(zram, "\n", ", "))
}

// zramModules are the guest's copies of the modules of zram (zsmalloc first), from the
// kernel's package: the minimal guests have no /lib/modules.
func zramModules(t *testing.T) []GuestFile {
	t.Helper()
	files, _, err := GuestModules(artifacts(t), "kernel/mm/zsmalloc.ko", "kernel/drivers/block/zram/zram.ko")
	if err != nil {
		t.Fatalf("the zram modules: %v", err)
	}
	return files
}

// activeSwaps are the areas /proc/swaps lists.
func activeSwaps(t *testing.T, ctx context.Context, vm *harness.VM) []string {
	t.Helper()
	b, err := vm.ReadFile(ctx, "/proc/swaps")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); i > 0 && len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// zramState is zram0's size and its line of /proc/swaps but the pages in use (they move).
func zramState(t *testing.T, ctx context.Context, vm *harness.VM) string {
	t.Helper()
	size, err := vm.ReadFile(ctx, "/sys/block/zram0/disksize")
	if err != nil {
		t.Fatal(err)
	}
	b, err := vm.ReadFile(ctx, "/proc/swaps")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 5 && f[0] == "/dev/zram0" {
			return "disksize " + strings.TrimSpace(string(size)) + "\n" + strings.Join([]string{f[0], f[1], f[2], "priority " + f[4]}, " ")
		}
	}
	t.Fatalf("zram0 is not active:\n%s", b)
	return ""
}
