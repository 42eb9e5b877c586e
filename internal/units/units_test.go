package units

import "testing"

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"4096", 4096, true}, {" 512M ", 512 << 20, true}, {"512MiB", 512 << 20, true},
		{"2g", 2 << 30, true}, {"1T", 1 << 40, true}, {"10KB", 10 << 10, true}, {"100B", 100, true},
		{"", 0, false}, {"iB", 0, false}, {"B", 0, false}, {"K", 0, false}, {"5iB", 0, false},
		{"1e9", 0, false}, {"12abc", 0, false}, {"-5", 0, false}, {"1.5G", 0, false}, {"0x10", 0, false},
		{"4611686018427387905", 0, false}, {"4194305T", 0, false}, {"M5", 0, false},
	} {
		got, err := ParseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	f.Add("512MiB")
	f.Add("iB")
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseBytes(s); err == nil && n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
	})
}
