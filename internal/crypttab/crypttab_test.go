package crypttab

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	// What Debian's installer writes for "guided, encrypted LVM", with a random-key swap and a
	// keyfile volume beside it.
	in := `# <target name> <source device> <key file> <options>
sda3_crypt UUID=2c6a0b9e-1c8f-4e0a-9d65-4b2f7e1d7a10 none luks,discard
cswap	/dev/sdb2	/dev/urandom	swap,cipher=aes-xts-plain64,size=256
data PARTUUID=1f2e - luks,keyscript=/lib/cryptsetup/scripts/decrypt_keyctl
`
	got, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Name: "sda3_crypt", Device: "UUID=2c6a0b9e-1c8f-4e0a-9d65-4b2f7e1d7a10", KeyFile: "none", Options: []string{"luks", "discard"}, Line: 2},
		{Name: "cswap", Device: "/dev/sdb2", KeyFile: "/dev/urandom", Options: []string{"swap", "cipher=aes-xts-plain64", "size=256"}, Line: 3},
		{Name: "data", Device: "PARTUUID=1f2e", KeyFile: "none", Options: []string{"luks", "keyscript=/lib/cryptsetup/scripts/decrypt_keyctl"}, Line: 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", got, want)
	}
	if !got[1].RandomKey() || got[0].RandomKey() {
		t.Error("RandomKey: want cswap's only")
	}
	if v, ok := got[2].Option("keyscript"); !ok || v != "/lib/cryptsetup/scripts/decrypt_keyctl" {
		t.Errorf("Option(keyscript) = %q %v", v, ok)
	}
	if _, ok := ByName(got, "cswap"); !ok {
		t.Error("ByName(cswap)")
	}
	if _, err := Parse([]byte("lonely\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("Parse of one field = %v, want an error naming the line", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("a UUID=x none luks\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, _ := Parse(b)
		for _, e := range entries {
			if e.Name == "" || e.Device == "" {
				t.Fatalf("empty field in %+v", e)
			}
		}
	})
}
