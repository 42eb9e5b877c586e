package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestDevicesRoundTrip(t *testing.T) {
	devices := map[string][]string{
		"/lib/modules/R/kernel/drivers/block/virtio_blk.ko": {"virtio:d00000002v*"},
		"/lib/modules/R/kernel/drivers/ata/ahci.ko":         {"pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv*sd*bc*sc*i*"},
		"/lib/modules/R/kernel/fs/ext4/ext4.ko":             {},
	}
	b := MarshalDevices(devices)
	want := "/lib/modules/R/kernel/drivers/ata/ahci.ko pci:v*d*sv*sd*bc01sc06i01* pci:v00008086d00002922sv*sd*bc*sc*i*\n" +
		"/lib/modules/R/kernel/drivers/block/virtio_blk.ko virtio:d00000002v*\n"
	if string(b) != want {
		t.Errorf("MarshalDevices:\n%s\nwant:\n%s", b, want)
	}
	got := ParseDevices(b)
	delete(devices, "/lib/modules/R/kernel/fs/ext4/ext4.ko") // a module without patterns has no line
	if !maps.EqualFunc(got, devices, slices.Equal) {
		t.Errorf("ParseDevices = %v, want %v", got, devices)
	}
	if got := ParseDevices([]byte("\n  \n/only/a/module.ko\r\n/m.ko a b")); len(got) != 1 || strings.Join(got["/m.ko"], ",") != "a,b" {
		t.Errorf("ParseDevices of odd lines = %v", got)
	}
}

// Marshal leaves the devices table out of the JSON (it is DevicesPath's) and writes the format.
func TestMarshalLeavesDevicesOut(t *testing.T) {
	b, err := Config{KernelRelease: "R", Devices: map[string][]string{"/m.ko": {"virtio:d00000002v*"}}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "devices") || strings.Contains(string(b), "virtio") {
		t.Errorf("the JSON holds the devices table: %s", b)
	}
	c, err := Parse(b)
	if err != nil || c.Format != Format {
		t.Errorf("Parse of Marshal = format %d, %v", c.Format, err)
	}
	// A config of format 2 with the table in its JSON still parses, table and all (hibernate
	// check reads initramfs an older hibernate built).
	c, err = Parse([]byte(`{"format": 2, "kernel_release": "R", "devices": {"/m.ko": ["virtio:d00000002v*"]}}`))
	if err != nil || len(c.Devices["/m.ko"]) != 1 {
		t.Errorf("format 2 config: %v, %v", c.Devices, err)
	}
	if _, err := Parse([]byte(`{"format": 4}`)); err == nil {
		t.Error("a config of a newer format parsed")
	}
}

func FuzzParseDevices(f *testing.F) {
	f.Add([]byte("/m.ko virtio:d00000002v*\n/n.ko pci:v*d*sv*sd*bc01sc06i01* x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := ParseDevices(b)
		// What parses marshals to lines that parse to the same table.
		if again := ParseDevices(MarshalDevices(d)); !maps.EqualFunc(again, d, slices.Equal) {
			t.Errorf("round trip: %v, then %v", d, again)
		}
	})
}

// benchTable is a devices table the size of a real one (Debian 12's storage modules: 31
// modules, 16 KiB of patterns).
func benchTable() map[string][]string {
	d := map[string][]string{}
	for m := 0; m < 31; m++ {
		var gs []string
		for g := 0; g < 12; g++ {
			gs = append(gs, fmt.Sprintf("pci:v%08Xd%08Xsv*sd*bc*sc*i*", 0x8086+m, 0x2922+g))
		}
		d[fmt.Sprintf("/lib/modules/6.1.0-50-amd64/kernel/drivers/block/mod%02d.ko", m)] = gs
	}
	return d
}

// The devices table as text (format 3) against the same in the JSON (format 2): what /init and
// hibernate check each paid per parse. go test -bench Devices ./internal/initramfs/config/
func BenchmarkDevicesText(b *testing.B) {
	t := MarshalDevices(benchTable())
	b.SetBytes(int64(len(t)))
	for b.Loop() {
		ParseDevices(t)
	}
}

func BenchmarkDevicesJSON(b *testing.B) {
	j, err := json.Marshal(Config{Format: 2, Devices: benchTable()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(j)))
	for b.Loop() {
		var c Config
		if err := json.Unmarshal(j, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func TestInitMarkNamesFormat(t *testing.T) {
	if want := fmt.Sprintf("this hibernate-init reads config formats 1 to %d", Format); InitMark != want {
		t.Errorf("InitMark = %q, want %q: bump it with Format", InitMark, want)
	}
	_, err := Parse([]byte(fmt.Sprintf(`{"format": %d}`, Format+1)))
	if err == nil || !strings.Contains(err.Error(), InitMark) {
		t.Errorf("Parse of a newer format: %v, want the refusal to carry InitMark (the /init binary's mark)", err)
	}
}
