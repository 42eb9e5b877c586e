package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// PowerSupply reads the kernel's /sys/class/power_supply below a root prefix: mains adapters
// (type Mains, USB, ...: "online") and batteries (type Battery or UPS: "status", "capacity",
// "capacity_level", energy_*/power_now or charge_*/current_now, "time_to_empty_now"). It gives
// one reading for the machine, "power_supply": on battery when no mains adapter is online (or,
// without any mains adapter, when a battery is discharging), the charge of all batteries
// together, the runtime their energy and draw give.
type PowerSupply struct {
	FS sysfs.FS

	seen map[string]bool // batteries seen before, to notice one vanishing
}

const powerSupplyDir = "sys/class/power_supply"

// Name is the source's name in the log.
func (p *PowerSupply) Name() string { return "power_supply" }

// Poll reads the power supplies once.
func (p *PowerSupply) Poll(ctx context.Context) []Reading {
	r, err := p.read()
	if err != nil {
		return []Reading{unknown("power_supply", err)}
	}
	return []Reading{r}
}

type battery struct {
	name                  string
	status, level         string
	capacity              float64 // -1 unknown
	energyNow, energyFull float64 // µWh, -1 unknown
	powerNow              float64 // µW
	chargeNow, chargeFull float64 // µAh
	currentNow            float64 // µA
	timeToEmpty           float64 // s
}

func (p *PowerSupply) read() (Reading, error) {
	r := unknown("power_supply", nil)
	entries, err := os.ReadDir(p.FS.Path(powerSupplyDir))
	if err != nil {
		return r, fmt.Errorf("read /%s: %w", powerSupplyDir, err)
	}
	var mains, online []string
	var bats []battery
	present := map[string]bool{}
	for _, e := range entries {
		dir := powerSupplyDir + "/" + e.Name()
		typ, err := p.FS.ReadString(dir + "/type")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // vanished between the listing and the read, or not a supply
			}
			return r, fmt.Errorf("read /%s/type: %w", dir, err)
		}
		switch typ {
		case "Battery", "UPS":
			if scope, _ := p.FS.ReadString(dir + "/scope"); scope == "Device" {
				continue // a mouse's or a headset's battery, not the machine's
			}
			if v, err := p.FS.ReadString(dir + "/present"); err == nil && v == "0" {
				continue
			}
			b := battery{name: e.Name()}
			b.status, _ = p.FS.ReadString(dir + "/status")
			b.level, _ = p.FS.ReadString(dir + "/capacity_level")
			num := func(f string) float64 {
				v, err := p.FS.ReadString(dir + "/" + f)
				if err != nil {
					return -1
				}
				n, err := strconv.ParseFloat(v, 64)
				if err != nil || n < 0 {
					return -1
				}
				return n
			}
			b.capacity = num("capacity")
			b.energyNow, b.energyFull, b.powerNow = num("energy_now"), num("energy_full"), num("power_now")
			b.chargeNow, b.chargeFull, b.currentNow = num("charge_now"), num("charge_full"), num("current_now")
			b.timeToEmpty = num("time_to_empty_now")
			bats = append(bats, b)
			present[e.Name()] = true
		default:
			v, err := p.FS.ReadString(dir + "/online")
			if err != nil {
				continue // no online attribute: says nothing about mains
			}
			mains = append(mains, e.Name())
			if v != "0" {
				online = append(online, e.Name())
			}
		}
	}
	var vanished []string
	for n := range p.seen {
		if !present[n] {
			vanished = append(vanished, n)
		}
	}
	sort.Strings(vanished)
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	for n := range present {
		p.seen[n] = true
	}

	var parts []string
	switch {
	case len(online) > 0:
		parts = append(parts, "mains online ("+strings.Join(online, ", ")+")")
	case len(mains) > 0:
		parts = append(parts, "mains offline")
	}
	discharging := false
	for _, b := range bats {
		s := b.name + " " + b.status
		if b.capacity >= 0 {
			s += fmt.Sprintf(" %.0f%%", b.capacity)
		}
		parts = append(parts, s)
		discharging = discharging || b.status == "Discharging"
	}
	for _, n := range vanished {
		parts = append(parts, n+" vanished")
	}
	r.Status = strings.Join(parts, "; ")

	switch {
	case len(online) > 0:
		r.Known = true // on mains: known whatever the batteries say
	case len(mains) == 0 && len(bats) == 0:
		return r, fmt.Errorf("no mains adapter and no battery in /%s", powerSupplyDir)
	case len(vanished) > 0:
		return r, fmt.Errorf("battery %s vanished (%s)", strings.Join(vanished, ", "), r.Status)
	case len(bats) == 0:
		return r, fmt.Errorf("mains offline and no battery in /%s", powerSupplyDir)
	case len(mains) == 0 && !discharging:
		r.Known = true // no adapter to ask; batteries not discharging: on line
	default:
		r.Known, r.OnBattery = true, true
	}
	r.Charge = charge(bats)
	if r.OnBattery {
		r.Runtime = runtime(bats) // a charging battery's draw says nothing of the time left
	}
	for _, b := range bats {
		if b.level == "Critical" && r.OnBattery {
			r.LowBattery = true
		}
	}
	return r, nil
}

// charge is the batteries' charge together, in percent, from energy, charge or capacity.
func charge(bats []battery) float64 {
	if len(bats) == 0 {
		return -1
	}
	var now, full, energyOK, chargeOK, capSum, capOK = 0.0, 0.0, true, true, 0.0, true
	for _, b := range bats {
		energyOK = energyOK && b.energyNow >= 0 && b.energyFull > 0
		chargeOK = chargeOK && b.chargeNow >= 0 && b.chargeFull > 0
		capOK = capOK && b.capacity >= 0
		capSum += b.capacity
	}
	switch {
	case energyOK:
		for _, b := range bats {
			now, full = now+b.energyNow, full+b.energyFull
		}
	case chargeOK:
		for _, b := range bats {
			now, full = now+b.chargeNow, full+b.chargeFull
		}
	case capOK:
		return capSum / float64(len(bats))
	default:
		return -1
	}
	return min(100, 100*now/full)
}

// runtime is the time left from the energy (or charge) left and the draw, else the kernel's
// time_to_empty_now; -1 when neither is reported or nothing is discharging.
func runtime(bats []battery) time.Duration {
	var energy, power, chg, current, tte float64
	energyOK, chargeOK, tteOK := true, true, false
	for _, b := range bats {
		energyOK = energyOK && b.energyNow >= 0 && b.powerNow >= 0
		chargeOK = chargeOK && b.chargeNow >= 0 && b.currentNow >= 0
		energy, power = energy+b.energyNow, power+b.powerNow
		chg, current = chg+b.chargeNow, current+b.currentNow
		if b.timeToEmpty > 0 {
			tte, tteOK = tte+b.timeToEmpty, true
		}
	}
	switch {
	case energyOK && power > 0:
		return time.Duration(energy / power * float64(time.Hour))
	case chargeOK && current > 0:
		return time.Duration(chg / current * float64(time.Hour))
	case tteOK:
		return time.Duration(tte * float64(time.Second))
	}
	return -1
}
