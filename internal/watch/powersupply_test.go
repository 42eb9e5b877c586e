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

// parseBattery takes one battery's attribute set; what is missing, not a number or negative
// is -1.
func TestParseBattery(t *testing.T) {
	for _, c := range []struct {
		name  string
		attrs map[string]string
		want  battery
	}{
		{"ThinkPad energy", map[string]string{"status": "Discharging", "capacity_level": "Normal", "capacity": "40",
			"energy_now": "20000000", "energy_full": "50000000", "power_now": "10000000"},
			battery{name: "B", status: "Discharging", level: "Normal", capacity: 40, energyNow: 20e6, energyFull: 50e6,
				powerNow: 10e6, chargeNow: -1, chargeFull: -1, currentNow: -1, timeToEmpty: -1}},
		{"charge and current", map[string]string{"status": "Charging", "charge_now": "1000000", "charge_full": "4000000",
			"current_now": "2000000", "time_to_empty_now": "600"},
			battery{name: "B", status: "Charging", capacity: -1, energyNow: -1, energyFull: -1, powerNow: -1,
				chargeNow: 1e6, chargeFull: 4e6, currentNow: 2e6, timeToEmpty: 600}},
		{"nothing", map[string]string{},
			battery{name: "B", capacity: -1, energyNow: -1, energyFull: -1, powerNow: -1, chargeNow: -1, chargeFull: -1,
				currentNow: -1, timeToEmpty: -1}},
		{"garbage and negative", map[string]string{"capacity": "full", "energy_now": "-5", "power_now": "", "energy_full": "0"},
			battery{name: "B", capacity: -1, energyNow: -1, energyFull: 0, powerNow: -1, chargeNow: -1, chargeFull: -1,
				currentNow: -1, timeToEmpty: -1}},
	} {
		if got := parseBattery("B", c.attrs); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestMachineBattery(t *testing.T) {
	for _, c := range []struct {
		attrs map[string]string
		want  bool
	}{
		{map[string]string{}, true},
		{map[string]string{"scope": "System", "present": "1"}, true},
		{map[string]string{"scope": "Unknown"}, true},
		{map[string]string{"scope": "Device"}, false}, // a mouse's, a headset's
		{map[string]string{"present": "0"}, false},
		{map[string]string{"scope": "System", "present": "0"}, false},
	} {
		if got := machineBattery(c.attrs); got != c.want {
			t.Errorf("%v: %v, want %v", c.attrs, got, c.want)
		}
	}
}

// onBattery decides from the adapters and batteries alone.
func TestSuppliesOnBattery(t *testing.T) {
	dis, chg := battery{name: "BAT0", status: "Discharging"}, battery{name: "BAT0", status: "Charging"}
	for _, c := range []struct {
		name     string
		s        supplies
		vanished []string
		want     bool
		errorHas string
	}{
		{"mains online", supplies{mains: []string{"AC"}, online: []string{"AC"}, bats: []battery{dis}}, nil, false, ""},
		{"mains online, a battery gone", supplies{mains: []string{"AC"}, online: []string{"AC"}}, []string{"BAT1"}, false, ""},
		{"mains offline", supplies{mains: []string{"AC"}, bats: []battery{chg}}, nil, true, ""},
		{"no adapter, discharging", supplies{bats: []battery{chg, dis}}, nil, true, ""},
		{"no adapter, charging", supplies{bats: []battery{chg}}, nil, false, ""},
		{"nothing", supplies{}, nil, false, "no mains adapter and no battery"},
		{"nothing, a battery gone", supplies{}, []string{"BAT0"}, false, "no mains adapter and no battery"},
		{"mains offline, a battery gone", supplies{mains: []string{"AC"}, bats: []battery{dis}}, []string{"BAT1"}, false, "battery BAT1 vanished (S)"},
		{"mains offline, no battery", supplies{mains: []string{"AC"}}, nil, false, "mains offline and no battery"},
	} {
		got, err := c.s.onBattery(c.vanished, "S")
		if c.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errorHas) {
				t.Errorf("%s: %v, want an error with %q", c.name, err, c.errorHas)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
}
