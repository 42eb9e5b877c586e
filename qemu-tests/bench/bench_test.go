package bench

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShares(t *testing.T) {
	peer := []string{
		"[    7.556611] Run /init as init process",
		"[   12.386393] virtio_blk virtio0: [vda] 2097152 512-byte logical blocks (1.07 GB/1.00 GiB)",
		"Begin: Running /scripts/local-premount ... [   12.486393] PM: hibernation: resume from hibernation",
	}
	share, _, after, err := shares(peer)
	if err != nil || share.Round(time.Millisecond) != 4930*time.Millisecond || after.Round(time.Millisecond) != 100*time.Millisecond {
		t.Errorf("peer: share %v after %v, err %v; want 4.93s and 100ms", share, after, err)
	}
	ours := []string{
		"[    4.815949] Run /init as init process",
		"hibernate: [   5.134] init of hibernate starting on 6.1.0-50-amd64",
		"hibernate: [   5.300] loading 2 modules for the devices present: virtio_pci ahci",
		"[    5.500000] virtio_blk virtio0: [vda] 2097152 512-byte logical blocks (1.07 GB/1.00 GiB)",
		"hibernate: [   6.909] writing 254:2 (/dev/vda2) to /sys/power/resume",
		"[    6.867900] PM: hibernation: resume from hibernation",
	}
	share, own, after, err := shares(ours)
	if err != nil || share.Round(time.Millisecond) != 2052*time.Millisecond || own.Round(time.Millisecond) != 1775*time.Millisecond || after.Round(time.Millisecond) != 1368*time.Millisecond {
		t.Errorf("ours: share %v own %v after %v err %v", share, own, after, err)
	}
	if _, _, _, err := shares(peer[:1]); err == nil {
		t.Error("no resume line: want an error")
	}
}

func TestHibernateConsoleTimes(t *testing.T) {
	log := filepath.Join(t.TempDir(), "console.log")
	os.WriteFile(log, []byte(strings.Join([]string{
		"[   10.000000] hibernate: hibernate now: checking that this machine will come back",
		"hibernate: a line without a kernel timestamp",
		"[   10.250000] PM: hibernation: hibernation entry",
		"[   11.000000] PM: Compressing and saving image data (43000 pages)...",
		"[   13.500000] reboot: Power down",
	}, "\n")), 0o644)
	if got := beforeEntry(log); got != 250*time.Millisecond {
		t.Errorf("beforeEntry = %v, want 250ms", got)
	}
	if got := saveTime(log); got != 2500*time.Millisecond {
		t.Errorf("saveTime = %v, want 2.5s", got)
	}
	if beforeEntry(log+".missing") != 0 || saveTime(log+".missing") != 0 {
		t.Error("a missing log gave a time")
	}
}

func TestNowParts(t *testing.T) {
	log := filepath.Join(t.TempDir(), "console.log")
	os.WriteFile(log, []byte(`[   46.019942] hibernate: hibernate now: checking that this machine will come back
[   46.180886] hibernate: checks done in 161 ms (the longest: next-boot, 53 ms)
[   46.202171] hibernate: syncing file systems
[   46.857400] hibernate: writing disk to /sys/power/state: the machine hibernates now
[   46.858121] PM: hibernation: hibernation entry
`), 0o644)
	checks, sync := nowParts(log)
	if checks != 161*time.Millisecond || sync.Round(time.Microsecond) != 655229*time.Microsecond {
		t.Errorf("nowParts = %s, %s; want 161ms, 655.229ms", checks, sync)
	}
	if got := beforeEntry(log).Round(time.Microsecond); got != 838179*time.Microsecond {
		t.Errorf("beforeEntry = %s, want 838.179ms", got)
	}
}

// hibernate now's check times, run by run, into one table: the longest median first, a check
// a run does not name counted as 0 there.
func TestCheckTimesTable(t *testing.T) {
	dir := t.TempDir()
	run := func(name, line string) HibernateRun {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("[   46.180886] hibernate: checks done in 61 ms (the longest: next-boot, 33 ms)\n[   46.180990] hibernate: check times: "+line+"\n"), 0o644)
		return HibernateRun{Log: p}
	}
	rounds := [][]HibernateRun{
		{run("a", "next-boot 33 ms, initramfs 20 ms, swap 2 ms"), run("b", "initramfs 40 ms, next-boot 30 ms")},
		{run("c", "initramfs 22 ms, next-boot 31 ms, swap 1 ms"), {Log: filepath.Join(dir, "missing")}},
	}
	if got := checkTimes(rounds[0][0].Log); got["initramfs"] != 20*time.Millisecond || len(got) != 3 {
		t.Errorf("checkTimes = %v", got)
	}
	want := "| check | runs | median | min–max |\n| --- | --- | --- | --- |\n" +
		"| next-boot | 3 | 31 ms | 30–33 ms |\n| initramfs | 3 | 22 ms | 20–40 ms |\n| swap | 3 | 1 ms | 0–2 ms |\n"
	if got := checkTimesTable(rounds); got != want {
		t.Errorf("checkTimesTable:\n%s\nwant:\n%s", got, want)
	}
	if got := checkTimesTable([][]HibernateRun{{{Log: filepath.Join(dir, "missing")}}}); got != "" {
		t.Errorf("no check times gave a table: %q", got)
	}
}

// The firmware section: medians per side, the ratio of ours to initramfs-tools', a failed trial
// left out by name.
func TestFirmwareMarkdown(t *testing.T) {
	r := &FirmwareResult{Pairs: 2, Release: "6.1.0-50-amd64", Cmdline: "resume=UUID=94", Versions: [][2]string{{"shim-signed", "1.51"}}}
	for i, tr := range []FirmwareTrial{
		{Initrd: firmwareOurs, Job: 30 * time.Second, Share: time.Second},
		{Initrd: firmwareDist, Job: 40 * time.Second, Share: 8 * time.Second},
		{Initrd: firmwareOurs, Job: 34 * time.Second, Share: 1200 * time.Millisecond},
		{Initrd: firmwareDist, Err: os.ErrDeadlineExceeded},
	} {
		tr.Seq = i + 1
		r.Trials = append(r.Trials, tr)
	}
	md := FirmwareMarkdown(r)
	for _, want := range []string{
		"| ours | 2 | 0.00 s | 0.00 s | 32.00 s (30.00 s–34.00 s) | 1100 ms (1000 ms–1200 ms) |",
		"| " + firmwareDist + " | 1 |",
		"power on to the job 0.80× (8.00 s sooner), the initramfs's share 0.14×",
		"Left out: trial 4 (" + firmwareDist + "): i/o timeout",
		"shim-signed 1.51",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in:\n%s", want, md)
		}
	}
}

func TestToolsAgainstOurs(t *testing.T) {
	runs := []ScaleRun{
		{Resume: 10 * time.Second, Read: 2 * time.Second, ToolsResume: 15 * time.Second, ToolsRead: 3 * time.Second},
		{Resume: 20 * time.Second, Read: 4 * time.Second, ToolsResume: 50 * time.Second, ToolsRead: 4 * time.Second},
		{Resume: 20 * time.Second, Read: 4 * time.Second, ToolsErr: os.ErrNotExist},
	}
	got := toolsAgainstOurs(runs)
	if !strings.Contains(got, "1.50–2.50× our time") || !strings.Contains(got, "1.00–1.50× as long") {
		t.Errorf("got %q", got)
	}
	if toolsAgainstOurs(runs[2:]) != "" {
		t.Error("a summary without a pair")
	}
}

// The floor's section under -icount: a row per round and initramfs, the ratios said per round,
// a failed trial left out of its round's medians and named.
func TestFloorMarkdownRounds(t *testing.T) {
	r := &FloorResult{Kernel: "6.1.0-50-amd64", Icount: 3, Rounds: 2, Took: 100 * time.Second,
		Ours: Initrd{Name: "ours", Packed: 3 << 20}, Floor: Initrd{Name: floorC, Packed: 1 << 20}, GoFloor: Initrd{Name: floorGo, Packed: 2 << 20}}
	ms := time.Millisecond
	add := func(round int, name string, share, dev time.Duration, err error) {
		unpack, at := 60*ms, 12*time.Second // the floor's
		if name == "ours" {
			unpack, at = 1900*ms, 13600*ms
		}
		r.Trials = append(r.Trials, Trial{Round: round, Initrd: name, Seq: len(r.Trials) + 1, Resume: 9 * time.Second, Share: share, AfterDev: dev,
			Unpack: unpack, InitAt: at, Err: err})
	}
	for round := 1; round <= 2; round++ {
		add(round, "ours", 680*ms, 48*ms, nil)
		add(round, floorC, 540*ms, 12*ms, nil)
		add(round, floorGo, 580*ms, 40*ms, nil)
	}
	add(2, "ours", 5000*ms, 48*ms, errors.New("no job after the resume"))
	md := FloorMarkdown(r)
	for _, want := range []string{
		"## The floor, by the guest's clock (-icount)",
		"In 2 rounds run one after the other",
		"| 1 | ours | 3.00 MiB | 1 | 9.00 s (9.00 s–9.00 s) | 680 ms (680 ms–680 ms) | 48 ms (48 ms–48 ms) | 1.90 s, 13.60 s |",
		"| 1 | floor | 1.00 MiB | 1 | 9.00 s (9.00 s–9.00 s) | 540 ms (540 ms–540 ms) | 12 ms (12 ms–12 ms) | 0.06 s, 12.00 s |",
		"ours' `Run /init` comes 1.60 s after the floor's, and the kernel's unpacking of\nthe initramfs takes 1.90 s against 0.06 s (3.00 against 1.00 MiB compressed)",
		"| 2 | floor | 1.00 MiB | 1 |",
		"round 1: total 1.00× (goal ≤ 1.05×), share 1.26× (goal ≤ 2×), 140 ms more in the share",
		"round 2: total 1.00×",
		"Left out: trial 7 (ours): no job after the resume.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the section lacks %q:\n%s", want, md)
		}
	}
}

func TestKernelBeforeInit(t *testing.T) {
	lines := []string{
		"[    2.931467] Trying to unpack rootfs image as initramfs...",
		"[    3.100000] something else",
		"[    4.817742] Freeing initrd memory: 3576K",
		"[   13.631800] Run /init as init process",
		"[   20.000000] Run /init as init process", // a later boot's: the first counts
	}
	unpack, at := kernelBeforeInit(lines)
	if unpack != 1886275*time.Microsecond || at != 13631800*time.Microsecond {
		t.Errorf("kernelBeforeInit = %v, %v; want 1.886275s, 13.6318s", unpack, at)
	}
	if unpack, at := kernelBeforeInit(lines[3:4]); unpack != 0 || at != 13631800*time.Microsecond {
		t.Errorf("without the unpack lines: %v, %v", unpack, at)
	}
}
