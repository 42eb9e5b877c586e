package modalias

import (
	"path"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		// Real aliases against the modaliases sysfs shows in a q35 QEMU guest.
		{"pci:v00001AF4d*sv*sd*bc*sc*i*", "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", true},
		{"pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", true},
		{"pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i00", false},
		{"pci:v*d*sv*sd*bc01sc08i02*", "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02", true},
		{"virtio:d00000002v*", "virtio:d00000002v00001AF4", true},
		{"virtio:d00000002v*", "virtio:d00000008v00001AF4", false},
		{"scsi:t_0x00*", "scsi:t_0x00", true},
		{"scsi:t_0x0e*", "scsi:t_0x00", false},
		// fnmatch without flags: '*' and '?' take '/', '[!' negates, a lone '[' is literal.
		{"of:N*T*Cfoo/bar", "of:NxTyCfoo/bar", true},
		{"a?c", "a/c", true},
		{"usb:v05ACp*d01[0-9]*", "usb:v05ACp1234d0150dc00", true},
		{"usb:v05ACp*d01[!0-9]*", "usb:v05ACp1234d0150dc00", false},
		{"usb:v05ACp*d01[^0-4]*", "usb:v05ACp1234d0150dc00", true},
		{"x[]]y", "x]y", true},
		{"x[a-]y", "x-y", true},
		{"a[b", "a[b", true},
		{"a[b", "ab", false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*", "", false},
		{"*a*b*c*", "xxaxxbxxcxx", true},
		{"*a*b*c*", "xxaxxcxxbxx", false},
	} {
		if got := Match(c.pattern, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

// FuzzMatch checks MatchAlias against path.Match where both define the answer (ASCII, as
// modaliases are: MatchAlias goes by bytes, as fnmatch in the C locale; no '/', no '\', no '!'
// or '^' classes, a well-formed pattern), and that it never panics.
func FuzzMatch(f *testing.F) {
	f.Add("pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01")
	f.Add("usb:v05ACp*d01[0-9]*", "usb:v05ACp1234d0150dc00")
	f.Add("a[b", "a[b")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := Match(pattern, s)
		if strings.ContainsAny(pattern+s, `/\!^`) || !ascii(pattern+s) {
			return
		}
		want, err := path.Match(pattern, s)
		if err != nil {
			return
		}
		if got != want {
			t.Errorf("Match(%q, %q) = %v, path.Match says %v", pattern, s, got, want)
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
