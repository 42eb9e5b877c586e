package watch

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/hibernate-linux/hibernate/internal/sysfs"
	"github.com/hibernate-linux/hibernate/internal/units"
)

// DefaultConfigFile is read when --config is not given and the file exists.
const DefaultConfigFile = "/etc/hibernate/watch.conf"

// Config is everything `hibernate watch` takes, from the config file and the flags (which have
// the same names as the file's keys, and win over them).
type Config struct {
	UPS             []UPSSpec
	NUTUser         string
	NUTPassword     string
	NUTTLS          bool           // STARTTLS on every upsd connection, verified
	NUTRoots        *x509.CertPool // the certificates nut-ca-file trusts; nil: the system's
	NUTCAFile       string
	NUTServerName   string // the name upsd's certificate must hold; "": each server's host
	PowerSupply     string // auto (when no UPS is given), yes, no
	Policy          Policy
	Poll            time.Duration
	Timeout         time.Duration // upsd: connect and each poll's exchange
	BackoffMax      time.Duration
	DryRun          bool
	Mode, ImageSize string  // passed to hibernate now
	Compressor      string  // passed to hibernate now
	WriteSpeed      float64 // bytes/s for the budget; 0: measured, else assumed
	Root            string
}

// DefaultConfig is the configuration without a file or flags.
func DefaultConfig() Config {
	return Config{PowerSupply: "auto", Policy: DefaultPolicy(), Poll: 5 * time.Second,
		Timeout: 5 * time.Second, BackoffMax: time.Minute, ImageSize: "auto", Root: "/"}
}

// key is one setting of the file and its flag.
type key struct {
	name, def, usage string
	isBool           bool
	set              func(c *Config, v string) error
}

// keys are the settings, in the order --help lists them.
func keys() []key {
	return []key{
		{"ups", "", "a UPS to follow, NAME[@HOST[:PORT]] as NUT writes it (NAME * for all the server's); repeat for several", false, setUPS},
		{"nut-user", "", "upsd user name (USERNAME), if the server wants one", false,
			setString(func(c *Config) *string { return &c.NUTUser })},
		{"nut-password", "", "upsd password (PASSWORD); prefer nut-password-file, flags show in ps", false,
			setString(func(c *Config) *string { return &c.NUTPassword })},
		{"nut-password-file", "", "a file holding the upsd password (its first line)", false, setNUTPasswordFile},
		{"nut-tls", "no", "say STARTTLS to upsd and go on only over TLS, its certificate verified (NUT 2.8's CERTFILE or CERTPATH on the server)", false,
			setBool(func(c *Config) *bool { return &c.NUTTLS })},
		{"nut-ca-file", "", "PEM certificates to trust for upsd's (its own, or its CA's); default the system's", false, setNUTCAFile},
		{"nut-server-name", "", "the name upsd's certificate must hold (default: the host of each --ups)", false,
			setString(func(c *Config) *string { return &c.NUTServerName })},
		{"power-supply", "auto", "follow /sys/class/power_supply: yes, no, or auto (when no --ups is given)", false, setPowerSupply},
		{"charge", "10", "hibernate on battery at a charge at or below this percentage (0: never on charge)", false, setCharge},
		{"runtime", "5m", "hibernate on battery at a runtime at or below this (seconds, or 90s, 5m; 0: never on runtime)", false,
			setDuration(func(c *Config) *time.Duration { return &c.Policy.Runtime }, true)},
		{"budget", "yes", "also hibernate at a runtime at or below what hibernating needs now (hibernate check's budget) plus the grace, where that is above runtime", false,
			setBool(func(c *Config) *bool { return &c.Policy.Budget })},
		{"write-speed", "", "the write speed the budget counts on (80MB/s): else the last hibernate canary's, else an assumed 40 MB/s", false,
			setWriteSpeed},
		{"grace", "30s", "wait this long after the decision; power coming back in it cancels", false,
			setDuration(func(c *Config) *time.Duration { return &c.Policy.Grace }, true)},
		{"on-unknown", "ignore", "on an unknown state (upsd down, garbage, no battery): ignore, last-on-battery or hibernate, after unknown-after", false,
			setOnUnknown},
		{"unknown-after", "2m", "how long a state must stay unknown before on-unknown applies", false,
			setDuration(func(c *Config) *time.Duration { return &c.Policy.UnknownAfter }, true)},
		{"trigger", "any", "any: hibernate when one supply is critical; all: only when every one is (redundant power supplies)", false,
			setTrigger},
		{"poll", "5s", "how often to read the sources", false,
			setDuration(func(c *Config) *time.Duration { return &c.Poll }, false)},
		{"timeout", "5s", "upsd: how long to wait to connect and for each poll's answers", false,
			setDuration(func(c *Config) *time.Duration { return &c.Timeout }, false)},
		{"backoff-max", "1m", "upsd: the longest wait between reconnection attempts (they start at 1s and double)", false,
			setDuration(func(c *Config) *time.Duration { return &c.BackoffMax }, false)},
		{"dry-run", "false", "log the decision and hibernate now's plan instead of hibernating", true, setDryRun},
		{"mode", "", "hibernate now's --mode (shutdown, platform, reboot, suspend)", false,
			setString(func(c *Config) *string { return &c.Mode })},
		{"image-size", "auto", "hibernate now's --image-size (auto, kernel, min or bytes)", false,
			setString(func(c *Config) *string { return &c.ImageSize })},
		{"compressor", "", "hibernate now's --compressor (lzo or lz4)", false,
			setString(func(c *Config) *string { return &c.Compressor })},
		{"root", "/", "the machine's root (a fake tree in tests)", false,
			setString(func(c *Config) *string { return &c.Root })},
	}
}

// setString is the setter of a setting taken as it is written.
func setString(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*dst(c) = v
		return nil
	}
}

// setBool is the setter of a yes/no setting.
func setBool(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := parseBool(v)
		if err == nil {
			*dst(c) = b
		}
		return err
	}
}

// setDuration is the setter of a duration setting (see parseDuration); allowZero says whether 0
// is allowed.
func setDuration(dst func(*Config) *time.Duration, allowZero bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		if d == 0 && !allowZero {
			return fmt.Errorf("%q: must be more than 0", v)
		}
		*dst(c) = d
		return nil
	}
}

// setUPS adds a UPS; the setting repeats.
func setUPS(c *Config, v string) error {
	u, err := ParseUPSSpec(v)
	if err == nil {
		c.UPS = append(c.UPS, u)
	}
	return err
}

// setNUTPasswordFile takes the password from the first line of the file v.
func setNUTPasswordFile(c *Config, v string) error {
	f, err := os.Open(v)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := secretFile(f, v); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return fmt.Errorf("read %s: %w", v, err)
	}
	c.NUTPassword = firstLine(b)
	return nil
}

// secretFile refuses a file holding upsd's password that others may read (its mode lets group
// or others read or write it) or, for a service run as root, that belongs to another user than
// root: they could read the password, or change the one watch logs in with.
func secretFile(f *os.File, name string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s holds the upsd password and is mode %04o: others can read it; chmod 600 %s", name, perm, name)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && st.Uid != 0 {
		return fmt.Errorf("%s holds the upsd password and belongs to uid %d, not root: chown root %s", name, st.Uid, name)
	}
	return nil
}

// setsKey says whether the config file's text sets key (a wrong line is ParseFile's to say).
func setsKey(text []byte, key string) bool {
	found := false
	_ = settings(bytes.NewReader(text), "", func(k, _ string) error {
		found = found || k == key
		return nil
	})
	return found
}

// firstLine is a file's first line, without its line end.
func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimRight(string(b), "\r\n"), "\n")
	return line
}

func setPowerSupply(c *Config, v string) error {
	switch v {
	case "auto", "yes", "no":
		c.PowerSupply = v
		return nil
	}
	return fmt.Errorf("%q: want auto, yes or no", v)
}

func setCharge(c *Config, v string) error {
	f, err := parsePercent(v)
	if err != nil {
		return err
	}
	c.Policy.Charge = f
	return nil
}

// parsePercent takes a percentage from 0 to 100, with or without its % sign.
func parsePercent(v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if err != nil || f < 0 || f > 100 {
		return 0, fmt.Errorf("%q: want a percentage from 0 to 100", v)
	}
	return f, nil
}

// setNUTCAFile reads the PEM certificates of v, to trust for upsd's.
func setNUTCAFile(c *Config, v string) error {
	b, err := os.ReadFile(v)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return fmt.Errorf("%s: no PEM certificate in it", v)
	}
	c.NUTRoots, c.NUTCAFile = pool, v
	return nil
}

// tlsFor is the TLS configuration of a connection to upsd at addr, nil without nut-tls.
func (c Config) tlsFor(addr string) *tls.Config {
	if !c.NUTTLS {
		return nil
	}
	name := c.NUTServerName
	if name == "" {
		name, _, _ = net.SplitHostPort(addr)
	}
	return &tls.Config{ServerName: name, RootCAs: c.NUTRoots, MinVersion: tls.VersionTLS12}
}

// setWriteSpeed takes a speed in bytes a second: 80MB/s, 80M, 1G/s.
func setWriteSpeed(c *Config, v string) error {
	n, err := units.ParseBytes(strings.TrimSuffix(v, "/s"))
	if err != nil || n == 0 {
		return fmt.Errorf("%q: want a speed such as 80MB/s", v)
	}
	c.WriteSpeed = float64(n)
	return nil
}

func setOnUnknown(c *Config, v string) error {
	switch OnUnknown(v) {
	case UnknownIgnore, UnknownLastOnBattery, UnknownHibernate:
		c.Policy.OnUnknown = OnUnknown(v)
		return nil
	}
	return fmt.Errorf("%q: want ignore, last-on-battery or hibernate", v)
}

func setTrigger(c *Config, v string) error {
	switch v {
	case "any", "all":
		c.Policy.All = v == "all"
		return nil
	}
	return fmt.Errorf("%q: want any or all", v)
}

// setDryRun sets dry-run; a value that is not yes or no also turns it off.
func setDryRun(c *Config, v string) error {
	b, err := parseBool(v)
	c.DryRun = b
	return err
}

// Set sets one key, as the config file's "key = value" line or the flag --key value does.
func (c *Config) Set(name, value string) error {
	for _, k := range keys() {
		if k.name == name {
			if err := k.set(c, value); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("unknown setting %q", name)
}

// parseDuration takes Go's durations (90s, 5m, 1m30s) and plain seconds (300).
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want seconds or a duration such as 90s or 5m", v)
	}
	return d, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q: want yes or no", v)
}

// ParseFile reads a config file into c: "key = value" lines, # comments, blank lines; a
// repeated key (ups) adds, any other repeated key replaces.
func (c *Config) ParseFile(r io.Reader, name string) error {
	return settings(r, name, func(k, v string) error { return c.Set(k, v) })
}

// settings calls set with each "key = value" of a config file (the value unquoted), in order,
// and says where a line is wrong: the file's one grammar, for ParseFile and for setsKey.
func settings(r io.Reader, name string, set func(k, v string) error) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s:%d: %q: want key = value", name, n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if err := set(k, v); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// Args records the flags given on the command line, in order, to apply them over the file.
type Args struct {
	Config      string // --config
	DefaultFile string // read when --config is not given, if it exists (DefaultConfigFile)
	given       [][2]string
}

type recorder struct {
	a      *Args
	name   string
	def    string
	isBool bool
}

func (r *recorder) String() string { return r.def }
func (r *recorder) Type() string {
	if r.isBool {
		return "bool"
	}
	if t, ok := flagTypes[r.name]; ok {
		return t
	}
	return "string"
}

// flagTypes name the values in --help.
var flagTypes = map[string]string{
	"ups": "NAME@HOST[:PORT]", "charge": "percent", "runtime": "duration", "grace": "duration",
	"unknown-after": "duration", "poll": "duration", "timeout": "duration", "backoff-max": "duration",
	"power-supply": "auto|yes|no", "on-unknown": "ignore|last-on-battery|hibernate", "trigger": "any|all",
	"budget": "yes|no", "nut-tls": "yes|no", "nut-ca-file": "file", "nut-server-name": "name", "write-speed": "bytes/s", "nut-password-file": "file", "root": "dir", "nut-user": "name", "nut-password": "password",
}

func (r *recorder) Set(v string) error {
	r.a.given = append(r.a.given, [2]string{r.name, v})
	return nil
}

// Flags adds the flags of every setting, and --config, to fs.
func Flags(fs *pflag.FlagSet) *Args {
	a := &Args{DefaultFile: DefaultConfigFile}
	fs.StringVar(&a.Config, "config", "", "the config file (default "+DefaultConfigFile+" when it exists)")
	for _, k := range keys() {
		f := fs.VarPF(&recorder{a: a, name: k.name, def: k.def, isBool: k.isBool}, k.name, "", k.usage)
		if k.isBool {
			f.NoOptDefVal = "true"
		}
	}
	return a
}

// Load builds the configuration: the defaults, then the config file, then the flags.
func (a *Args) Load() (Config, error) {
	c := DefaultConfig()
	path, must := a.Config, a.Config != ""
	if !must {
		path = a.DefaultFile
	}
	f, err := os.Open(path)
	switch {
	case err == nil:
		defer f.Close()
		text, err := io.ReadAll(io.LimitReader(f, 1<<20))
		if err != nil {
			return c, fmt.Errorf("config: read %s: %w", path, err)
		}
		if setsKey(text, "nut-password") {
			if err := secretFile(f, path); err != nil {
				return c, fmt.Errorf("config: %w (or move the password to nut-password-file)", err)
			}
		}
		if err := c.ParseFile(bytes.NewReader(text), path); err != nil {
			return c, err
		}
	case must || !os.IsNotExist(err):
		return c, fmt.Errorf("config: %w", err)
	}
	for _, g := range a.given {
		if err := c.Set(g[0], g[1]); err != nil {
			return c, fmt.Errorf("--%w", err)
		}
	}
	return c, nil
}

// Sources makes the sources the configuration asks for: one NUTSource per upsd server, and the
// power_supply one.
func (c Config) Sources(clock Clock, logf func(string, ...any)) []Source {
	var out []Source
	byAddr := map[string]*NUTSource{}
	for _, u := range c.UPS {
		s := byAddr[u.Addr]
		if s == nil {
			s = &NUTSource{Addr: u.Addr, User: c.NUTUser, Password: c.NUTPassword, Timeout: c.Timeout,
				BackoffMin: time.Second, BackoffMax: c.BackoffMax, Clock: clock, Logf: logf, TLS: c.tlsFor(u.Addr)}
			byAddr[u.Addr] = s
			out = append(out, s)
		}
		s.UPS = append(s.UPS, u.Name)
	}
	if c.PowerSupply == "yes" || (c.PowerSupply == "auto" && len(c.UPS) == 0) {
		out = append(out, &PowerSupply{FS: sysfs.New(c.Root)})
	}
	return out
}
