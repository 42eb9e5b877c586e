package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// The resume line after the Enter is timed by its arrival; the share and the image read are the
// kernel's figures.
func TestLUKSShares(t *testing.T) {
	at := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	lines := []harness.TimedLine{
		{Text: "[    2.500000] Run /init as init process", At: at(3.52)},
		{Text: "Begin: Running /scripts/local-top ... [    3.100000] random: crng init done", At: at(3.9)},
		{Text: "Please unlock disk vda1_crypt: ", At: at(4.8)}, // its end came after the Enter
		{Text: "cryptsetup: vda1_crypt: set up successfully", At: at(7.8)},
		{Text: "Begin: Running /scripts/local-premount ... [    9.000000] PM: hibernation: resume from hibernation", At: at(9.6)},
		{Text: "[   13.300000] PM: hibernation: Read 173548 kbytes in 4.24 seconds (40.93 MB/s)", At: at(13.9)},
	}
	write, share, read, err := luksShares(lines, at(4.5))
	if err != nil || write.Round(time.Millisecond) != 5100*time.Millisecond || share.Round(time.Millisecond) != 6500*time.Millisecond ||
		read.Round(time.Millisecond) != 4240*time.Millisecond {
		t.Errorf("write %v share %v read %v err %v, want 5.1 s, 6.5 s, 4.24 s", write, share, read, err)
	}
	if _, _, _, err := luksShares(lines[:4], at(4.5)); err == nil {
		t.Error("no resume line: want an error")
	}
	if _, _, _, err := luksShares(lines, at(10)); err == nil {
		t.Error("the resume line before the Enter: want an error")
	}
	if got := promptLine(lines, luksPeerPrompt, "Passphrase for x"); got != strings.TrimSpace(luksPeerPrompt) {
		t.Errorf("prompt line %q", got)
	}
	ours := []harness.TimedLine{{Text: "Passphrase for vda1_crypt (UUID=a1): *****"}}
	if got := promptLine(ours, "", "Passphrase for vda1_crypt (UUID=a1): "); got != "Passphrase for vda1_crypt (UUID=a1):" {
		t.Errorf("our prompt line %q", got)
	}
}

// /init's own times of the unlock and the activation are read from its lines.
func TestOurUnlockLines(t *testing.T) {
	open := ourOpenRE.FindStringSubmatch("hibernate: [  10.388] unlocked vda1_crypt (/dev/vda1) with its passphrase in 3202 ms")
	lvm := ourLVMRE.FindStringSubmatch("hibernate: [  11.387] activated LVM logical volumes guest-vg/root guest-vg/swap_1 in 982 ms (their metadata read only)")
	if open == nil || open[1] != "3202" || lvm == nil || lvm[1] != "982" {
		t.Errorf("unlock %q, activation %q", open, lvm)
	}
}

// The encrypted section replaces its own part of the report, or goes before the heading given.
func TestSpliceSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.md")
	os.WriteFile(p, []byte("# B\n\n## Size\n\nsizes\n\n## Hibernating\n\nhib\n"), 0o644)
	sec1 := luksHeading + "\n\nfirst\n"
	if err := spliceSection(p, luksHeading, sec1, hibernatingHeading); err != nil {
		t.Fatal(err)
	}
	want := "# B\n\n## Size\n\nsizes\n\n" + sec1 + "\n## Hibernating\n\nhib\n"
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Fatalf("inserted:\n%s\nwant:\n%s", b, want)
	}
	sec2 := luksHeading + "\n\nsecond\nlines\n"
	if err := spliceSection(p, luksHeading, sec2, hibernatingHeading); err != nil {
		t.Fatal(err)
	}
	want = strings.Replace(want, sec1, sec2, 1)
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Fatalf("replaced:\n%s\nwant:\n%s", b, want)
	}
	// The section last in the file: replaced to the end.
	os.WriteFile(p, []byte("# B\n\n"+sec1), 0o644)
	spliceSection(p, luksHeading, sec2, hibernatingHeading)
	if b, _ := os.ReadFile(p); string(b) != "# B\n\n"+sec2 {
		t.Errorf("last section:\n%q", b)
	}
}

// A report of an encrypted run has the ratio line and both rows.
func TestLUKSMarkdown(t *testing.T) {
	r := &LUKSResult{Start: time.Now(), Pairs: 1, Initrds: []Initrd{{Name: "ours"}, {Name: luksPeerName, Cold: time.Second}},
		Trials: []LUKSTrial{{Initrd: "ours", Job: 4 * time.Second, Write: time.Second}, {Initrd: luksPeerName, Job: 10 * time.Second, Write: 4 * time.Second}}}
	md := LUKSMarkdown(r)
	for _, want := range []string{luksHeading + "\n", "| ours | 1 | 4.00 s |", "| " + luksPeerName + " | 1 | 10.00 s |", "0.40× the peer's time", "ratios is 0.40 (1 pairs: 0.40)", "0.25× (pairs' median 0.25)"} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in:\n%s", want, md)
		}
	}
}

// A trial whose kernel stopped before /init is told apart from one whose initramfs failed.
func TestBeforeInit(t *testing.T) {
	dir := t.TempDir()
	panicked, failed := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	os.WriteFile(panicked, []byte("[    0.068000] Kernel panic - not syncing: IO-APIC + timer doesn't work!  Boot with apic=debug\n"), 0o644)
	os.WriteFile(failed, []byte("[    4.5] Run /init as init process\nhibernate: [5.0] …\n"), 0o644)
	err := os.ErrDeadlineExceeded
	if got := beforeInit(LUKSTrial{Log: panicked, Err: err}); !strings.HasPrefix(got, "Kernel panic - not syncing: IO-APIC") {
		t.Errorf("panicked: %q", got)
	}
	if got := beforeInit(LUKSTrial{Log: failed, Err: err}); got != "" {
		t.Errorf("the initramfs ran: %q", got)
	}
	if got := beforeInit(LUKSTrial{Log: panicked}); got != "" {
		t.Errorf("no failure: %q", got)
	}
}

// readSection gives back the section spliceSection would replace: up to the next heading, or
// the end; nothing where the heading is not there.
func TestReadSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.md")
	os.WriteFile(p, []byte("# R\n\n## A\n\na\n\n## B\n\nb\n"), 0o644)
	for heading, want := range map[string]string{"## A": "## A\n\na\n", "## B": "## B\n\nb\n", "## C": ""} {
		if got, err := readSection(p, heading); err != nil || got != want {
			t.Errorf("readSection(%q) = %q, %v; want %q", heading, got, err, want)
		}
	}
}
