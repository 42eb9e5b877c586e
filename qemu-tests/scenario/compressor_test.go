package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTrixieCompressor hibernates Debian 13's 6.12 twice in one boot, with the kernel's lzo and
// then with `--compressor lz4`, and resumes each through our /init. The swap area read by the
// host says which compressor stored each image (the header's SF_COMPRESSION_ALG_LZ4); lz4 is a
// module in this kernel, which our initramfs carries and /init loads before the restore (its
// console line); the job goes on after both; the kernel's choice is lzo again after the second.
// The two images' sizes and the kernel's write times are logged side by side (benchmarks.md).
func TestTrixieCompressor(t *testing.T) {
	ctx := timeout(t, 10*time.Minute)
	a := trixieArtifacts(t)
	lz4, lz4Paths, err := LZ4Modules(a)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(ctx, a, t.Name(), Output(testWriter{t}), JobTicks(1), Files(lz4...))
	if err != nil {
		t.Fatal(err)
	}
	vm, _ := boot(t, ctx, m, "")
	wantRelease(t, m)
	do(t, ctx, vm, m.SetupSwap, m.StartJob)
	if _, err := run(ctx, vm, append([]string{GuestAgentInit, "insmod"}, lz4Paths...)...); err != nil {
		t.Fatal(err)
	}
	param := func() string {
		t.Helper()
		b, err := vm.ReadFile(ctx, CompressorParam)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if p := param(); p != "lzo" {
		t.Fatalf("the kernel's compressor is %q before: want Debian's default, lzo", p)
	}
	var figures []string
	for _, comp := range []string{"lzo", "lz4"} {
		m.Config.NowFlags = nil
		if comp == "lz4" {
			m.Config.NowFlags = []string{"--compressor", "lz4"}
		}
		mark := len(vm.ConsoleLines())
		if err := m.HibernateNow(ctx, vm); err != nil {
			t.Fatal(err)
		}
		_, _, wrote, _ := KernelSpeed(vm.ConsoleLines()[mark:], "Wrote")
		_, size, _ := ConsoleStamp(vm.ConsoleLines()[mark:], "Image size after compression")
		area, err := m.SwapArea()
		if err != nil {
			t.Fatal(err)
		}
		if !area.HasImage() || area.Header == nil || area.Header.Compressor() != comp {
			t.Fatalf("hibernated with %s: the swap area holds %s, compressor %v", comp, area.Kind(), area.Header)
		}
		disk := (area.DataPages + uint64(area.MapPages)) * 4096
		vm = resumeBoot(t, ctx, m, m.Setup.KernelParams)
		nowFinished(t, ctx, vm) // the settings put back
		loaded := strings.Contains(strings.Join(vm.ConsoleLines(), "\n"), "the image is lz4-compressed: loaded lz4.ko")
		if loaded != (comp == "lz4") {
			t.Errorf("%s image: /init said it loaded lz4: %v; console: %s", comp, loaded, vm.ConsoleLogPath())
		}
		if p := param(); p != "lzo" {
			t.Errorf("after the %s hibernation the kernel's compressor is %q: want lzo, as before", comp, p)
		}
		figures = append(figures, fmt.Sprintf("%s: %.1f MiB on disk (%q), %q; resumed %s after power on",
			comp, mib(disk), strings.TrimSpace(size), strings.TrimSpace(wrote), m.Summary.ResumeTime.Round(100*time.Millisecond)))
	}
	t.Logf("the same boot, the same job, one image each:\n  %s", strings.Join(figures, "\n  "))
}
