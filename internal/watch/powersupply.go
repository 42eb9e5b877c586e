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

// battery is what read takes of one battery's attributes.
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

// supplies is what one read found in /sys/class/power_supply.
type supplies struct {
	mains  []string // adapters with an online attribute
	online []string // those of them online
	bats   []battery
}

// batteryAttrs are the attributes parseBattery reads.
var batteryAttrs = []string{"status", "capacity_level", "capacity", "energy_now", "energy_full", "power_now",
	"charge_now", "charge_full", "current_now", "time_to_empty_now"}

// read reads every supply once and gives the machine's reading.
func (p *PowerSupply) read() (Reading, error) {
	s, err := p.readSupplies()
	if err != nil {
		return unknown("power_supply", nil), err
	}
	return s.reading(p.vanished(s.bats))
}

// readSupplies reads each supply that /sys/class/power_supply lists.
func (p *PowerSupply) readSupplies() (supplies, error) {
	var s supplies
	entries, err := os.ReadDir(p.FS.Path(powerSupplyDir))
	if err != nil {
		return s, fmt.Errorf("read /%s: %w", powerSupplyDir, err)
	}
	for _, e := range entries {
		if err := p.readSupply(&s, e.Name()); err != nil {
			return s, err
		}
	}
	return s, nil
}

// readSupply reads the supply name by its type: a battery (Battery, UPS) of the machine, or an
// adapter (Mains, USB, ...) with an online attribute; it adds it to s. Anything else it skips.
func (p *PowerSupply) readSupply(s *supplies, name string) error {
	dir := powerSupplyDir + "/" + name
	typ, err := p.FS.ReadString(dir + "/type")
	if errors.Is(err, os.ErrNotExist) {
		return nil // vanished between the listing and the read, or not a supply
	}
	if err != nil {
		return fmt.Errorf("read /%s/type: %w", dir, err)
	}
	switch typ {
	case "Battery", "UPS":
		if !machineBattery(p.attrs(dir, "scope", "present")) {
			return nil
		}
		s.bats = append(s.bats, parseBattery(name, p.attrs(dir, batteryAttrs...)))
	default:
		v, ok := p.attrs(dir, "online")["online"]
		if !ok {
			return nil // no online attribute: says nothing about mains
		}
		s.mains = append(s.mains, name)
		if v != "0" {
			s.online = append(s.online, name)
		}
	}
	return nil
}

// attrs reads the named attributes of the supply in dir; one that cannot be read is left out.
func (p *PowerSupply) attrs(dir string, names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		if v, err := p.FS.ReadString(dir + "/" + n); err == nil {
			m[n] = v
		}
	}
	return m
}

// machineBattery reports whether a battery's scope and present attributes make it one of the
// machine's: not a mouse's or a headset's (scope Device), and not absent (present 0).
func machineBattery(attrs map[string]string) bool {
	return attrs["scope"] != "Device" && attrs["present"] != "0"
}

// parseBattery reads a battery's attributes; an amount that is missing or not a number is -1.
func parseBattery(name string, attrs map[string]string) battery {
	num := func(f string) float64 { return parseAmount(attrs[f]) }
	return battery{
		name:   name,
		status: attrs["status"], level: attrs["capacity_level"],
		capacity:  num("capacity"),
		energyNow: num("energy_now"), energyFull: num("energy_full"), powerNow: num("power_now"),
		chargeNow: num("charge_now"), chargeFull: num("charge_full"), currentNow: num("current_now"),
		timeToEmpty: num("time_to_empty_now"),
	}
}

// parseAmount parses a battery amount; -1 when v is not a number or is negative.
func parseAmount(v string) float64 {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// vanished returns, sorted, the batteries seen at an earlier read that bats lacks, and notes
// bats as seen.
func (p *PowerSupply) vanished(bats []battery) []string {
	present := map[string]bool{}
	for _, b := range bats {
		present[b.name] = true
	}
	var gone []string
	for n := range p.seen {
		if !present[n] {
			gone = append(gone, n)
		}
	}
	sort.Strings(gone)
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	for n := range present {
		p.seen[n] = true
	}
	return gone
}

// reading is the machine's reading from the supplies: the state, when it can be told, and the
// charge and runtime of the batteries.
func (s supplies) reading(vanished []string) (Reading, error) {
	r := unknown("power_supply", nil)
	r.Status = s.status(vanished)
	onBattery, err := s.onBattery(vanished, r.Status)
	if err != nil {
		return r, err
	}
	r.Known, r.OnBattery = true, onBattery
	r.Charge = charge(s.bats)
	if r.OnBattery {
		r.Runtime = runtime(s.bats) // a charging battery's draw says nothing of the time left
	}
	r.LowBattery = r.OnBattery && s.critical()
	return r, nil
}

// status is the supplies as the log shows them: "mains offline; BAT0 Discharging 40%".
func (s supplies) status(vanished []string) string {
	var parts []string
	switch {
	case len(s.online) > 0:
		parts = append(parts, "mains online ("+strings.Join(s.online, ", ")+")")
	case len(s.mains) > 0:
		parts = append(parts, "mains offline")
	}
	for _, b := range s.bats {
		part := b.name + " " + b.status
		if b.capacity >= 0 {
			part += fmt.Sprintf(" %.0f%%", b.capacity)
		}
		parts = append(parts, part)
	}
	for _, n := range vanished {
		parts = append(parts, n+" vanished")
	}
	return strings.Join(parts, "; ")
}

// onBattery tells whether the machine runs on battery: when no mains adapter is online, or,
// without any adapter, when a battery is discharging. It fails when it cannot tell: nothing to
// ask, a battery gone, or mains offline with no battery.
func (s supplies) onBattery(vanished []string, status string) (bool, error) {
	switch {
	case len(s.online) > 0:
		return false, nil // on mains: known whatever the batteries say
	case len(s.mains) == 0 && len(s.bats) == 0:
		return false, fmt.Errorf("no mains adapter and no battery in /%s", powerSupplyDir)
	case len(vanished) > 0:
		return false, fmt.Errorf("battery %s vanished (%s)", strings.Join(vanished, ", "), status)
	case len(s.bats) == 0:
		return false, fmt.Errorf("mains offline and no battery in /%s", powerSupplyDir)
	case len(s.mains) == 0 && !s.discharging():
		return false, nil // no adapter to ask; batteries not discharging: on line
	}
	return true, nil
}

// discharging reports whether a battery says Discharging.
func (s supplies) discharging() bool {
	for _, b := range s.bats {
		if b.status == "Discharging" {
			return true
		}
	}
	return false
}

// critical reports whether a battery's capacity_level is Critical.
func (s supplies) critical() bool {
	for _, b := range s.bats {
		if b.level == "Critical" {
			return true
		}
	}
	return false
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
