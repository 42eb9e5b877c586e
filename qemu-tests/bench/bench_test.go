package bench

import (
	"testing"
	"time"
)

func TestShares(t *testing.T) {
	peer := []string{
		"[    7.556611] Run /init as init process",
		"Begin: Running /scripts/local-premount ... [   12.486393] PM: hibernation: resume from hibernation",
	}
	share, _, _, err := shares(peer)
	if err != nil || share.Round(time.Millisecond) != 4930*time.Millisecond {
		t.Errorf("peer: share %v, err %v; want 4.93s", share, err)
	}
	ours := []string{
		"[    4.815949] Run /init as init process",
		"hibernate: [   5.134] init of hibernate starting on 6.1.0-50-amd64",
		"hibernate: [   6.699] loaded 26 modules in 1506 ms (0 failed)",
		"hibernate: [   6.909] writing 254:2 (/dev/vda2) to /sys/power/resume",
		"[    6.867900] PM: hibernation: resume from hibernation",
	}
	share, own, after, err := shares(ours)
	if err != nil || share.Round(time.Millisecond) != 2052*time.Millisecond || own.Round(time.Millisecond) != 1775*time.Millisecond || after.Round(time.Millisecond) != 210*time.Millisecond {
		t.Errorf("ours: share %v own %v after %v err %v", share, own, after, err)
	}
	if _, _, _, err := shares(peer[:1]); err == nil {
		t.Error("no resume line: want an error")
	}
}
