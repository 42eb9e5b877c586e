package scenario

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/testutil/nutlab"
	"github.com/hibernate-linux/hibernate/qemu-tests/harness"
)

// fleetGuest is one machine of the rack.
type fleetGuest struct {
	m   *Machine
	vm  *harness.VM
	off time.Time // when its QEMU exited, the image written
}

// A rack on one UPS, the NUT way, with real NUT on the host (nutlab: upsd and dummy-ups, and a
// primary upsmon, HOSTSYNC 3 minutes, whose SHUTDOWNCMD only records its time):
//   - three guests, each running a job and `hibernate watch` as a NUT secondary (LOGIN) over
//     QEMU's user networking to the host's upsd; the third's disk throttled, so its image takes
//     longer to write;
//   - the UPS OL, then OB LB: the primary sets FSD, all three hibernate; the primary runs its
//     SHUTDOWNCMD only after the last guest is off (the times compared), the slow one included;
//   - the power back (upsd started again, as the primary's machine boots): the three resume with
//     their jobs, and log in to upsd again.
func TestFleetOnOneUPS(t *testing.T) {
	ctx := timeout(t, 15*time.Minute)
	a := artifacts(t)
	ups := nutlab.Start(t, "rack", nutlab.Dev("OL", 100, 3600))
	primary := ups.StartPrimary(3 * time.Minute)
	ups.LoginsAre(1, 30*time.Second)
	watch := []string{"watch", "--ups", fmt.Sprintf("rack@%s:%d", HostAddr, ups.Port),
		"--nut-user", nutlab.SecondaryUser, "--nut-password", nutlab.SecondaryPassword,
		"--power-supply", "no", "--grace", "0", "--poll", "1", "--mode", "shutdown"}
	const watchOut = "/var/lib/hibernate-demo/watch.out"

	gs := make([]*fleetGuest, 3)
	for i := range gs {
		opts := []Option{Output(testWriter{t}), UserNetwork(), JobState(32)}
		if i == 2 {
			opts = append(opts, ThrottleDisk(8<<20)) // 8 MB/s: several seconds more to write the image
		}
		m, err := New(ctx, a, fmt.Sprintf("%s-%d", t.Name(), i), opts...)
		if err != nil {
			t.Fatal(err)
		}
		gs[i] = &fleetGuest{m: m}
	}
	each(t, gs, func(g *fleetGuest) error {
		vm, _, err := g.m.Boot(ctx, "")
		g.vm = vm
		if err != nil {
			return err
		}
		if _, err := run(ctx, vm, GuestAgentInit, "net-up", "eth0", GuestAddr); err != nil {
			return err
		}
		if err := Do(ctx, vm, g.m.SetupSwap, g.m.StartJob); err != nil {
			return err
		}
		_, err = vm.Spawn(ctx, watchOut, g.m.Command(watch...)...)
		return err
	})
	for _, g := range gs {
		killAtEnd(t, g.vm)
	}
	ups.LoginsAre(4, time.Minute) // the primary and the three

	ups.SetDev(nutlab.Dev("OB LB", 10, 60))
	lowBattery := time.Now()
	each(t, gs, func(g *fleetGuest) error {
		if _, err := waitPoweredOff(ctx, g.vm, lowBattery, &g.m.Summary.HibernateTime, &g.m.Summary.Before); err != nil {
			return err
		}
		// Off is QEMU's time of the guest's power-off request (its SHUTDOWN event), not when
		// this goroutine saw QEMU gone: the primary's upsd sees the guest's connection drop
		// as QEMU exits, and its SHUTDOWNCMD once came 5 ms before this side's time.Now().
		g.off = shutdownEventTime(g.vm)
		return g.m.CheckImage(ctx, g.vm)
	})
	ups.WaitFor("the primary's SHUTDOWNCMD", 4*time.Minute, func() error {
		if _, ok := primary.ShutdownAt(); !ok {
			return fmt.Errorf("not run yet")
		}
		return nil
	})
	shutdown, _ := primary.ShutdownAt()
	var offs []string
	for i, g := range gs {
		if !shutdown.After(g.off) {
			t.Fatalf("the primary's SHUTDOWNCMD ran at %s, before guest %d was off (%s)", shutdown.Format(time.StampMilli), i, g.off.Format(time.StampMilli))
		}
		offs = append(offs, fmt.Sprintf("guest %d off %s after LB", i, g.off.Sub(lowBattery).Round(100*time.Millisecond)))
	}
	if !gs[2].off.After(gs[0].off) || !gs[2].off.After(gs[1].off) {
		t.Errorf("the throttled guest was off first: %s", strings.Join(offs, ", "))
	}
	t.Logf("%s; the primary's SHUTDOWNCMD %s after LB, %s after the last guest", strings.Join(offs, ", "),
		shutdown.Sub(lowBattery).Round(100*time.Millisecond), shutdown.Sub(gs[2].off).Round(10*time.Millisecond))

	// The power back. The primary has gone down by now (here, its SHUTDOWNCMD only said so),
	// and its upsd with it; the FSD it set lives in that upsd. So upsd starts again, as when the
	// primary boots on the returning power, and then the guests are powered on.
	ups.StopUpsd()
	ups.SetDev(nutlab.Dev("OL CHRG", 12, 70))
	ups.StartUpsd()
	each(t, gs, func(g *fleetGuest) error {
		vm, err := g.m.Resume(ctx, g.m.Setup.KernelParams)
		g.vm = vm
		return err
	})
	for _, g := range gs {
		killAtEnd(t, g.vm)
	}
	ups.WaitFor("the three logged in again", time.Minute, func() error {
		n, err := ups.NumLogins()
		if err == nil && n < 3 {
			err = fmt.Errorf("NUMLOGINS %d", n)
		}
		return err
	})
	for i, g := range gs {
		out, err := g.vm.ReadFile(ctx, watchOut)
		if err != nil || !strings.Contains(string(out), "resumed: connecting to the power sources again") {
			t.Fatalf("guest %d's watch after the resume (%v):\n%s", i, err, out)
		}
	}
}

// each runs f for every guest side by side and fails the test with the first error.
func each(t *testing.T, gs []*fleetGuest, f func(*fleetGuest) error) {
	t.Helper()
	errs := make([]error, len(gs))
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(g)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("guest %d: %v (logs: %v)", i, err, gs[i].m.Summary.Logs)
		}
	}
}

// shutdownEventTime is QEMU's timestamp of vm's SHUTDOWN event (the guest powering itself
// off), or now when there is none.
func shutdownEventTime(vm *harness.VM) time.Time {
	for _, ev := range vm.Events() {
		if ev.Name == "SHUTDOWN" && !ev.Time.IsZero() {
			return ev.Time
		}
	}
	return time.Now()
}
