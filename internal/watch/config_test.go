package watch

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestConfigFile(t *testing.T) {
	f, err := os.Open("testdata/watch.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := DefaultConfig()
	if err := c.ParseFile(f, "watch.conf"); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.UPS = []UPSSpec{{"rack-a", "localhost:3493"}, {"rack-b", "nut.example.net:3493"}}
	want.NUTUser, want.NUTPassword = "watch", "s3cret word"
	want.Policy = Policy{Charge: 15, Runtime: 3 * time.Minute, Budget: true, Grace: time.Minute, All: true,
		OnUnknown: UnknownLastOnBattery, UnknownAfter: 5 * time.Minute}
	want.Poll, want.Timeout, want.BackoffMax = 2*time.Second, 3*time.Second, 30*time.Second
	want.PowerSupply, want.DryRun = "no", true
	want.WriteSpeed = 80 << 20
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	srcs := c.Sources(RealClock, nil)
	if len(srcs) != 2 || srcs[0].Name() != "upsd localhost:3493" || srcs[1].Name() != "upsd nut.example.net:3493" {
		t.Fatalf("sources: %v", srcs)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"charge 10", "watch.conf:1: \"charge 10\": want key = value"},
		{"\n# c\nbogus = 1", "watch.conf:3: unknown setting \"bogus\""},
		{"charge = 120", "watch.conf:1: charge: \"120\": want a percentage"},
		{"grace = soon", "watch.conf:1: grace: \"soon\": want seconds"},
		{"poll = 0", "watch.conf:1: poll: \"0\": must be more than 0"},
		{"ups = a@h:port", "watch.conf:1: ups: ups \"a@h:port\": port"},
		{"on-unknown = panic", "want ignore, last-on-battery or hibernate"},
		{"dry-run = maybe", "want yes or no"},
		{"budget = maybe", "watch.conf:1: budget: \"maybe\": want yes or no"},
		{"write-speed = fast", "write-speed: \"fast\": want a speed such as 80MB/s"},
		{"write-speed = 0", "want a speed"},
	} {
		cfg := DefaultConfig()
		err := cfg.ParseFile(strings.NewReader(c.text), "watch.conf")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
}

// The defaults the flags show are the defaults the code has.
func TestFlagDefaultsAreTheDefaults(t *testing.T) {
	c := DefaultConfig()
	for _, k := range keys() {
		if k.def == "" {
			continue
		}
		if err := c.Set(k.name, k.def); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Fatalf("applying the flags' defaults gives %+v, want %+v", c, DefaultConfig())
	}
}

func TestArgs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "w.conf")
	os.WriteFile(file, []byte("charge = 20\nups = a@h1\ngrace = 10\n"), 0o644)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("hunter2\n"), 0o600)
	cases := []struct {
		args    []string
		check   func(Config) bool
		wantErr string
	}{
		{args: nil, check: func(c Config) bool { return reflect.DeepEqual(c, DefaultConfig()) }},
		{args: []string{"--config", file}, check: func(c Config) bool {
			return c.Policy.Charge == 20 && c.Policy.Grace == 10*time.Second && len(c.UPS) == 1
		}},
		{args: []string{"--config", file, "--charge", "5", "--ups=b@h2:1234", "--dry-run"}, check: func(c Config) bool {
			return c.Policy.Charge == 5 && c.DryRun && len(c.UPS) == 2 && c.UPS[1] == UPSSpec{"b", "h2:1234"}
		}},
		{args: []string{"--dry-run=false", "--runtime", "90s", "--trigger", "all"}, check: func(c Config) bool {
			return !c.DryRun && c.Policy.Runtime == 90*time.Second && c.Policy.All
		}},
		{args: []string{"--ups", "*@[::1]:3493", "--nut-user", "u", "--nut-password-file", pw}, check: func(c Config) bool {
			return c.UPS[0] == UPSSpec{"*", "[::1]:3493"} && c.NUTUser == "u" && c.NUTPassword == "hunter2"
		}},
		{args: []string{"--ups", "myups"}, check: func(c Config) bool { return c.UPS[0] == UPSSpec{"myups", "localhost:3493"} }},
		{args: []string{"--config", filepath.Join(dir, "missing")}, wantErr: "no such file"},
		{args: []string{"--grace", "-1s"}, wantErr: "--grace"},
		{args: []string{"--ups", "@host"}, wantErr: "want NAME"},
	}
	for _, c := range cases {
		fs := pflag.NewFlagSet("watch", pflag.ContinueOnError)
		a := Flags(fs)
		a.DefaultFile = filepath.Join(dir, "no-default") // not this machine's /etc
		if err := fs.Parse(c.args); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		cfg, err := a.Load()
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: %v, want %q", c.args, err, c.wantErr)
			}
			continue
		}
		if err != nil || !c.check(cfg) {
			t.Errorf("%q: %+v, %v", c.args, cfg, err)
		}
	}
}

func TestParsePercent(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"10", 10, false},
		{"15%", 15, false},
		{"0", 0, false},
		{"100", 100, false},
		{"2.5%", 2.5, false},
		{"100.5", 0, true},
		{"-1", 0, true},
		{"%", 0, true},
		{"", 0, true},
		{"ten", 0, true},
		{"10 %", 0, true},
	} {
		got, err := parsePercent(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("parsePercent(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "want a percentage from 0 to 100") {
			t.Errorf("parsePercent(%q): error %q does not say what it wants", c.in, err)
		}
	}
}

// The password file's first line, without its line end.
func TestFirstLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"hunter2\n", "hunter2"},
		{"hunter2", "hunter2"},
		{"hunter2\r\n", "hunter2"},
		{"a b\nsecond\n", "a b"},
		{"", ""},
		{"\nsecond", ""},
	} {
		if got := firstLine([]byte(c.in)); got != c.want {
			t.Errorf("firstLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A config file that holds the upsd password, and a password file, are refused where others
// can read them, with the fix; mode 0600 is taken. A config file without a password may be
// read by all.
func TestSecretFilesRefusedWhenReadable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	load := func(cfg string) (Config, error) { return (&Args{Config: cfg}).Load() }

	withPassword := write("watch.conf", "ups = rack@nut\nnut-user = watch\nnut-password = s3cret\n", 0o644)
	if _, err := load(withPassword); err == nil || !strings.Contains(err.Error(), "is mode 0644: others can read it; chmod 600") {
		t.Fatalf("a config with the password, mode 0644: %v", err)
	}
	os.Chmod(withPassword, 0o600)
	if c, err := load(withPassword); err != nil || c.NUTPassword != "s3cret" {
		t.Fatalf("mode 0600: %+v, %v", c, err)
	}
	pwFile := write("password", "fr0m file\n", 0o640)
	withFile := write("file.conf", "ups = rack@nut\nnut-user = watch\nnut-password-file = "+pwFile+"\n", 0o644)
	if _, err := load(withFile); err == nil || !strings.Contains(err.Error(), "password holds the upsd password and is mode 0640") {
		t.Fatalf("a password file of mode 0640: %v", err)
	}
	os.Chmod(pwFile, 0o600)
	if c, err := load(withFile); err != nil || c.NUTPassword != "fr0m file" {
		t.Fatalf("a password file of mode 0600 (its config 0644, holding no password): %+v, %v", c, err)
	}
}
