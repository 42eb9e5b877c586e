package watch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// psTree writes a fake /sys/class/power_supply: supplies maps "NAME/attribute" to its value.
func psTree(t *testing.T, root string, supplies map[string]string) {
	t.Helper()
	for k, v := range supplies {
		p := filepath.Join(root, "sys/class/power_supply", k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	acOnline  = map[string]string{"AC/type": "Mains", "AC/online": "1"}
	acOffline = map[string]string{"AC/type": "Mains", "AC/online": "0"}
	// A ThinkPad's BAT0 as the kernel shows it: energy in µWh, power in µW.
	bat0 = map[string]string{"BAT0/type": "Battery", "BAT0/present": "1", "BAT0/status": "Discharging",
		"BAT0/capacity": "40", "BAT0/capacity_level": "Normal", "BAT0/energy_now": "20000000",
		"BAT0/energy_full": "50000000", "BAT0/power_now": "10000000"}
)

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestPowerSupply(t *testing.T) {
	cases := []struct {
		name     string
		tree     map[string]string
		known    bool
		onBatt   bool
		low      bool
		charge   float64
		runtime  time.Duration
		errorHas string
	}{
		{name: "on mains, charging", tree: merge(acOnline, bat0, map[string]string{"BAT0/status": "Charging"}),
			known: true, charge: 40, runtime: -1},
		{name: "mains offline, energy and power", tree: merge(acOffline, bat0),
			known: true, onBatt: true, charge: 40, runtime: 2 * time.Hour},
		{name: "charge and current instead of energy", tree: merge(acOffline, map[string]string{
			"BAT1/type": "Battery", "BAT1/status": "Discharging", "BAT1/charge_now": "1000000",
			"BAT1/charge_full": "4000000", "BAT1/current_now": "2000000"}),
			known: true, onBatt: true, charge: 25, runtime: 30 * time.Minute},
		{name: "capacity and time_to_empty_now only", tree: merge(acOffline, map[string]string{
			"BAT0/type": "Battery", "BAT0/status": "Discharging", "BAT0/capacity": "7", "BAT0/time_to_empty_now": "600"}),
			known: true, onBatt: true, charge: 7, runtime: 10 * time.Minute},
		{name: "two batteries together", tree: merge(acOffline, bat0, map[string]string{
			"BAT1/type": "Battery", "BAT1/status": "Unknown", "BAT1/capacity": "100", "BAT1/energy_now": "30000000",
			"BAT1/energy_full": "30000000", "BAT1/power_now": "0"}),
			known: true, onBatt: true, charge: 62.5, runtime: 5 * time.Hour},
		{name: "critical level is LB", tree: merge(acOffline, bat0, map[string]string{"BAT0/capacity_level": "Critical"}),
			known: true, onBatt: true, low: true, charge: 40, runtime: 2 * time.Hour},
		{name: "no mains adapter, discharging", tree: bat0, known: true, onBatt: true, charge: 40, runtime: 2 * time.Hour},
		{name: "no mains adapter, full", tree: merge(bat0, map[string]string{"BAT0/status": "Full"}), known: true, charge: 40, runtime: -1},
		{name: "a USB-C adapter online is mains", tree: merge(acOffline, bat0, map[string]string{"ucsi-source-psy-USBC000:001/type": "USB", "ucsi-source-psy-USBC000:001/online": "1"}),
			known: true, charge: 40, runtime: -1},
		{name: "a mouse's battery is not the machine's", tree: merge(acOffline, bat0, map[string]string{
			"hidpp_battery_0/type": "Battery", "hidpp_battery_0/scope": "Device", "hidpp_battery_0/status": "Discharging", "hidpp_battery_0/capacity": "1"}),
			known: true, onBatt: true, charge: 40, runtime: 2 * time.Hour},
		{name: "a battery not present", tree: merge(acOffline, map[string]string{"BAT0/type": "Battery", "BAT0/present": "0", "BAT0/status": "Unknown"}),
			errorHas: "no battery"},
		{name: "nothing at all", tree: map[string]string{}, errorHas: "no mains adapter and no battery"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "sys/class/power_supply"), 0o755)
			psTree(t, root, c.tree)
			p := &PowerSupply{FS: sysfs.New(root)}
			rs := p.Poll(context.Background())
			if len(rs) != 1 {
				t.Fatalf("%d readings, want 1", len(rs))
			}
			r := rs[0]
			if c.errorHas != "" {
				if r.Known || r.Err == nil || !strings.Contains(r.Err.Error(), c.errorHas) {
					t.Fatalf("%v, want unknown with %q", r, c.errorHas)
				}
				return
			}
			if !r.Known || r.OnBattery != c.onBatt || r.LowBattery != c.low || r.Charge != c.charge ||
				(c.runtime < 0) != (r.Runtime < 0) || (c.runtime >= 0 && r.Runtime.Round(time.Second) != c.runtime) {
				t.Fatalf("%+v\nwant known on-battery %v low %v charge %v runtime %v", r, c.onBatt, c.low, c.charge, c.runtime)
			}
		})
	}
}

func TestPowerSupplyVanishedBattery(t *testing.T) {
	root := t.TempDir()
	psTree(t, root, merge(acOffline, bat0))
	p := &PowerSupply{FS: sysfs.New(root)}
	if r := p.Poll(context.Background())[0]; !r.Known || !r.OnBattery {
		t.Fatalf("before: %v", r)
	}
	if err := os.RemoveAll(filepath.Join(root, "sys/class/power_supply/BAT0")); err != nil {
		t.Fatal(err)
	}
	r := p.Poll(context.Background())[0]
	if r.Known || r.Err == nil || !strings.Contains(r.Err.Error(), "BAT0 vanished") {
		t.Fatalf("after BAT0 went: %v, want unknown, BAT0 vanished", r)
	}
	// On mains, the state is known again, whatever happened to the battery.
	psTree(t, root, acOnline)
	if r := p.Poll(context.Background())[0]; !r.Known || r.OnBattery {
		t.Fatalf("on mains: %v, want known on line", r)
	}
	// No /sys/class/power_supply at all.
	p = &PowerSupply{FS: sysfs.New(t.TempDir())}
	if r := p.Poll(context.Background())[0]; r.Known {
		t.Fatalf("no sysfs: %v, want unknown", r)
	}
}

func TestPowerSupplyDrivesThePolicy(t *testing.T) {
	root := t.TempDir()
	psTree(t, root, merge(acOnline, bat0, map[string]string{"BAT0/status": "Charging"}))
	p := &PowerSupply{FS: sysfs.New(root)}
	m := NewMachine(Policy{Charge: 10, Grace: 0})
	step := func(at int, tree map[string]string) bool {
		psTree(t, root, tree)
		_, hib := m.Step(t0.Add(time.Duration(at)*time.Second), p.Poll(context.Background()))
		return hib
	}
	if step(0, nil) || step(1, merge(acOffline, map[string]string{"BAT0/status": "Discharging"})) {
		t.Fatal("hibernated on mains or at 40%")
	}
	if !step(2, map[string]string{"BAT0/energy_now": "5000000"}) { // 10%
		t.Fatal("did not hibernate at 10%")
	}
}
