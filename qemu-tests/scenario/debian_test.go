package scenario

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestDebianSystemd is issue 5's real thing: a Debian 12 guest with systemd as PID 1 (a root
// debootstrapped once and cached under $HIBERNATE_CACHE/debroot), hibernate installed with make install,
// the swap and the initramfs made inside the guest; after the resume the demo service has the
// same PID, the boot ID is the same and systemctl is-system-running says what it said before.
func TestDebianSystemd(t *testing.T) {
	a := artifacts(t)
	if os.Getuid() != 0 {
		t.Skip("debootstrap and the guest's root-owned tree need root")
	}
	s, err := DebianSystemd(context.Background(), a, DebianOptions{Name: t.Name(), Out: testWriter{t}})
	if err != nil {
		t.Fatalf("debian systemd: %v\nlogs: %v", err, s.Logs)
	}
	t.Logf("kernel %s; debootstrap %s (0: cached); prepare %s; boot to %s %s (%s when hibernating and after the resume); initramfs in the guest %s; hibernate %s; resume %s",
		s.Kernel, s.DebootstrapTime.Round(time.Second), s.PrepareTime.Round(10*time.Millisecond), s.BootState,
		s.BootToRunning.Round(100*time.Millisecond), s.SystemState, s.InitrdTime.Round(10*time.Millisecond),
		s.HibernateTime.Round(100*time.Millisecond), s.ResumeTime.Round(100*time.Millisecond))
}
