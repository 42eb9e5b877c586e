// Package watch is `hibernate watch`: it follows the power of the machine (UPSes through Network
// UPS Tools' upsd, and the kernel's /sys/class/power_supply) and hibernates while there is still
// power to write the image.
//
// The parts: sources (NUTSource, PowerSupply) turn what they read into Readings; Machine is the
// policy, a pure state machine stepped with the time and the readings; Service is the loop that
// polls the sources, steps the Machine and calls an injected Action. Nothing in this package
// hibernates: the caller supplies the Action (the command line gives it `hibernate now`'s path).
package watch

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Reading is what a source says about one power supply (a UPS, or the machine's batteries) at
// one poll.
type Reading struct {
	Source string // "NAME@HOST:PORT" for a UPS, "power_supply" for the kernel's
	Known  bool   // false: the state is unknown (server down, garbage, no battery), see Err
	Err    error  // why the state is unknown

	OnBattery  bool          // running on battery (NUT's OB; no mains online)
	LowBattery bool          // the supply says its battery is low (NUT's LB; capacity_level Critical)
	FSD        bool          // NUT's forced shutdown, set by the primary upsmon
	Charge     float64       // percent; < 0 when not reported
	Runtime    time.Duration // time left on battery; < 0 when not reported
	Status     string        // the raw status, for the log ("OB LB", "mains offline; BAT0 Discharging")
}

// Source is something that can be polled for readings. Poll returns one reading per supply it
// follows; on failure it returns readings with Known false (it never blocks for longer than its
// own timeout, and handles its own reconnection).
type Source interface {
	Name() string
	Poll(ctx context.Context) []Reading
}

// unknown makes an unknown reading.
func unknown(source string, err error) Reading {
	return Reading{Source: source, Err: err, Charge: -1, Runtime: -1}
}

// String is the reading as the log shows it.
func (r Reading) String() string {
	if !r.Known {
		return fmt.Sprintf("%s: unknown (%v)", r.Source, r.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Source, r.Status)
	if r.Charge >= 0 {
		fmt.Fprintf(&b, ", charge %.0f%%", r.Charge)
	}
	if r.Runtime >= 0 {
		fmt.Fprintf(&b, ", runtime %s", r.Runtime.Round(time.Second))
	}
	return b.String()
}

// parseNUTStatus reads NUT's ups.status ("OL", "OB DISCHRG", "FSD OB LB", ...) into r.
// A status that says neither OL nor OB nor FSD (WAIT while the driver starts, OFF, an empty
// string) leaves the state unknown.
func parseNUTStatus(r *Reading, status string) {
	r.Status = status
	var ol, ob bool
	for _, f := range strings.Fields(status) {
		switch f {
		case "OL":
			ol = true
		case "OB":
			ob = true
		case "LB":
			r.LowBattery = true
		case "FSD":
			r.FSD = true
		}
	}
	switch {
	case ol && ob:
		r.Err = fmt.Errorf("status %q says both OL and OB", status)
	case ol || ob || r.FSD:
		r.Known = true
		r.OnBattery = ob
	default:
		r.Err = fmt.Errorf("status %q says neither OL nor OB", status)
	}
}
