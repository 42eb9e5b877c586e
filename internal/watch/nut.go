package watch

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultNUTPort is upsd's TCP port.
const DefaultNUTPort = 3493

// maxLine bounds one line of upsd's answer: a garbage-speaking server cannot make us buffer more.
const maxLine = 4096

// ErrProtocol marks an answer that is not NUT's network protocol: the connection is dropped.
var ErrProtocol = errors.New("not a NUT answer")

// NUTError is upsd's "ERR <code>" answer (UNKNOWN-UPS, VAR-NOT-SUPPORTED, DATA-STALE,
// DRIVER-NOT-CONNECTED, ACCESS-DENIED, ...): the connection stays usable.
type NUTError struct {
	Cmd  string
	Code string
}

func (e *NUTError) Error() string { return fmt.Sprintf("upsd answered %q with ERR %s", e.Cmd, e.Code) }

// NUTConn is one connection to upsd, speaking its line protocol (docs: "Network protocol
// information" of Network UPS Tools). Every call sets its own deadline.
type NUTConn struct {
	conn    net.Conn
	r       *bufio.Reader
	Timeout time.Duration
}

// DialNUT connects to upsd at addr ("host:port") within timeout.
func DialNUT(ctx context.Context, addr string, timeout time.Duration) (*NUTConn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &NUTConn{conn: c, r: bufio.NewReaderSize(c, maxLine), Timeout: timeout}, nil
}

// StartTLS says STARTTLS and, once upsd answers OK, runs the rest of the connection over TLS
// with cfg, whose verification (RootCAs, ServerName) is the caller's: the handshake fails on a
// certificate cfg does not trust. A server without TLS configured answers ERR
// FEATURE-NOT-CONFIGURED (a *NUTError). NUT 2.8's STARTTLS: the server's CERTFILE (OpenSSL
// builds) or CERTPATH and CERTIDENT (NSS builds, as Debian's).
func (c *NUTConn) StartTLS(cfg *tls.Config) error {
	line, err := c.command("STARTTLS")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "OK STARTTLS") {
		return fmt.Errorf("answer %q to STARTTLS: %w", line, ErrProtocol)
	}
	if c.r.Buffered() > 0 { // bytes after the OK, before the handshake: not upsd's protocol
		return fmt.Errorf("data after OK STARTTLS, before the TLS handshake: %w", ErrProtocol)
	}
	tc := tls.Client(c.conn, cfg)
	if c.Timeout > 0 {
		tc.SetDeadline(time.Now().Add(c.Timeout))
	}
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.conn, c.r = tc, bufio.NewReaderSize(tc, maxLine)
	return nil
}

// Close says LOGOUT (without waiting long for the answer) and closes.
func (c *NUTConn) Close() error {
	c.conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
	fmt.Fprintf(c.conn, "LOGOUT\n")
	return c.conn.Close()
}

func (c *NUTConn) send(cmd string) error {
	if c.Timeout > 0 {
		c.conn.SetDeadline(time.Now().Add(c.Timeout))
	}
	if _, err := c.conn.Write([]byte(cmd + "\n")); err != nil {
		return fmt.Errorf("send %q: %w", cmd, err)
	}
	return nil
}

func (c *NUTConn) readLine(cmd string) (string, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("answer to %q: a line longer than %d bytes: %w", cmd, maxLine, ErrProtocol)
	}
	if err != nil {
		return "", fmt.Errorf("answer to %q: %w", cmd, err)
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// command sends cmd and reads its one-line answer, turning ERR into *NUTError.
func (c *NUTConn) command(cmd string) (string, error) {
	if err := c.send(cmd); err != nil {
		return "", err
	}
	line, err := c.readLine(cmd)
	if err != nil {
		return "", err
	}
	if code, ok := strings.CutPrefix(line, "ERR "); ok {
		return "", &NUTError{Cmd: cmd, Code: strings.TrimSpace(code)}
	}
	return line, nil
}

// Login sends USERNAME and PASSWORD (upsd answers OK to both).
func (c *NUTConn) Login(user, password string) error {
	for _, cmd := range []string{"USERNAME " + quote(user), "PASSWORD " + quote(password)} {
		line, err := c.command(cmd)
		if err != nil {
			if strings.HasPrefix(cmd, "PASSWORD") {
				return fmt.Errorf("PASSWORD: %w", err)
			}
			return err
		}
		if !strings.HasPrefix(line, "OK") {
			return fmt.Errorf("answer %q to %s: %w", line, strings.Fields(cmd)[0], ErrProtocol)
		}
	}
	return nil
}

// LoginUPS says LOGIN ups, as upsmon does: upsd counts this connection among the UPS's logins
// (NUMLOGINS), and its primary upsmon waits for every one of them to be gone before it cuts the
// power (HOSTSYNC). It takes USERNAME and PASSWORD first, and one UPS a connection.
func (c *NUTConn) LoginUPS(ups string) error {
	cmd := "LOGIN " + ups
	line, err := c.command(cmd)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "OK") {
		return fmt.Errorf("answer %q to %s: %w", line, cmd, ErrProtocol)
	}
	return nil
}

// ListUPS returns the names of the UPSes upsd serves.
func (c *NUTConn) ListUPS() ([]string, error) {
	const cmd = "LIST UPS"
	line, err := c.command(cmd)
	if err != nil {
		return nil, err
	}
	if line != "BEGIN LIST UPS" {
		return nil, fmt.Errorf("answer %q to %s: %w", line, cmd, ErrProtocol)
	}
	var names []string
	for i := 0; ; i++ {
		if i > 1000 {
			return nil, fmt.Errorf("answer to %s: more than 1000 lines: %w", cmd, ErrProtocol)
		}
		line, err := c.readLine(cmd)
		if err != nil {
			return nil, err
		}
		if line == "END LIST UPS" {
			return names, nil
		}
		f, err := splitWords(line)
		if err != nil || len(f) < 2 || f[0] != "UPS" {
			return nil, fmt.Errorf("line %q in the answer to %s: %w", line, cmd, ErrProtocol)
		}
		names = append(names, f[1])
	}
}

// GetVar returns a variable of a UPS (GET VAR ups name → VAR ups name "value").
func (c *NUTConn) GetVar(ups, name string) (string, error) {
	cmd := "GET VAR " + ups + " " + name
	line, err := c.command(cmd)
	if err != nil {
		return "", err
	}
	f, err := splitWords(line)
	if err != nil || len(f) != 4 || f[0] != "VAR" || f[1] != ups || f[2] != name {
		return "", fmt.Errorf("answer %q to %q: %w", line, cmd, ErrProtocol)
	}
	return f[3], nil
}

// splitWords splits a NUT line into words; "double quoted" words may hold spaces and \" \\.
func splitWords(line string) ([]string, error) {
	var out []string
	i := 0
	for i < len(line) {
		if line[i] == ' ' {
			i++
			continue
		}
		if line[i] != '"' {
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			out = append(out, line[i:i+j])
			i += j
			continue
		}
		var b strings.Builder
		i++
		for {
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated quote in %q", line)
			}
			ch := line[i]
			if ch == '\\' && i+1 < len(line) {
				b.WriteByte(line[i+1])
				i += 2
				continue
			}
			i++
			if ch == '"' {
				break
			}
			b.WriteByte(ch)
		}
		out = append(out, b.String())
	}
	return out, nil
}

func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \"\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// UPSSpec is one UPS to follow: NAME@HOST:PORT, NUT's notation; NAME "*" means every UPS the
// server lists.
type UPSSpec struct {
	Name string
	Addr string // host:port
}

func (u UPSSpec) String() string { return u.Name + "@" + u.Addr }

// ParseUPSSpec reads NAME[@HOST[:PORT]] (HOST defaults to localhost, PORT to 3493; [::1]:3493
// for IPv6); NAME may be * for all UPSes of the server.
func ParseUPSSpec(s string) (UPSSpec, error) {
	name, host, hasHost := strings.Cut(s, "@")
	if name == "" || strings.ContainsAny(name, " \t\"") {
		return UPSSpec{}, fmt.Errorf("ups %q: want NAME[@HOST[:PORT]] (NAME may be *)", s)
	}
	if !hasHost || host == "" {
		host = "localhost"
	}
	port := strconv.Itoa(DefaultNUTPort)
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return UPSSpec{}, fmt.Errorf("ups %q: port %q is not a port number", s, p)
		}
		host, port = h, p
	} else if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		if strings.Count(host, ":") == 1 {
			return UPSSpec{}, fmt.Errorf("ups %q: %w", s, err)
		}
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		return UPSSpec{}, fmt.Errorf("ups %q: empty host", s)
	}
	return UPSSpec{Name: name, Addr: net.JoinHostPort(host, port)}, nil
}

// Clock is the time as the service sees it: the real one, or a test's.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the system's clock.
var RealClock Clock = realClock{}

// NUTSource follows the UPSes of one upsd server over one connection, reconnecting with a
// back-off (doubling from BackoffMin to BackoffMax) after any failure of the connection.
type NUTSource struct {
	Addr       string
	UPS        []string // names; "*" for every UPS the server lists
	User       string   // USERNAME/PASSWORD when set
	Password   string
	Timeout    time.Duration // for the connection and each poll's exchange
	BackoffMin time.Duration
	BackoffMax time.Duration
	Clock      Clock
	Logf       func(format string, args ...any)
	// TLS, when set, has every connection say STARTTLS first and go on only over TLS verified
	// with it: never in the clear, so no password goes out unencrypted.
	TLS *tls.Config

	conn    *NUTConn
	backoff time.Duration
	retryAt time.Time
	lastErr error
	names   []string // the UPSes of the last poll (for unknown readings of "*")
	// loginSaid: the LOGIN's outcome was said (once, and again when it changes)
	loginSaid string
}

// Name is the server's address.
func (s *NUTSource) Name() string { return "upsd " + s.Addr }

func (s *NUTSource) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

func (s *NUTSource) clock() Clock {
	if s.Clock == nil {
		return RealClock
	}
	return s.Clock
}

// Close says LOGOUT and drops the connection.
func (s *NUTSource) Close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Drop forgets the connection without a word to upsd and has the next Poll connect again at
// once: after a resume, the connection is the one of before the power-off, which upsd may
// have dropped (its LOGIN with it). The next Poll logs in again.
func (s *NUTSource) Drop() {
	if s.conn != nil {
		s.conn.conn.Close()
		s.conn = nil
	}
	s.backoff, s.retryAt, s.lastErr = 0, time.Time{}, nil
}

// loginUPS is the UPS this source says LOGIN to: the one it follows, with a user to log in as;
// "" with no user, several UPSes or "*" (upsd takes one LOGIN a connection).
func (s *NUTSource) loginUPS() string {
	if s.User == "" || len(s.UPS) != 1 || s.UPS[0] == "*" {
		return ""
	}
	return s.UPS[0]
}

// sayLogin logs what became of the LOGIN, when it changed.
func (s *NUTSource) sayLogin(msg string) {
	if msg != s.loginSaid {
		s.loginSaid = msg
		s.logf("upsd %s: %s", s.Addr, msg)
	}
}

// unknownAll is an unknown reading for every UPS this source follows.
func (s *NUTSource) unknownAll(err error) []Reading {
	names := s.names
	if len(names) == 0 {
		names = s.UPS
	}
	var out []Reading
	for _, n := range names {
		out = append(out, unknown(n+"@"+s.Addr, err))
	}
	return out
}

// fail drops the connection and schedules the next attempt.
func (s *NUTSource) fail(err error) []Reading {
	s.Close()
	switch {
	case s.backoff == 0:
		s.backoff = s.BackoffMin
		if s.backoff <= 0 {
			s.backoff = time.Second
		}
	default:
		s.backoff *= 2
	}
	if s.BackoffMax > 0 && s.backoff > s.BackoffMax {
		s.backoff = s.BackoffMax
	}
	s.retryAt = s.clock().Now().Add(s.backoff)
	s.lastErr = err
	s.logf("upsd %s: %v; reconnecting in %s", s.Addr, err, s.backoff)
	return s.unknownAll(err)
}

// Poll reads ups.status, battery.charge and battery.runtime of every UPS followed.
func (s *NUTSource) Poll(ctx context.Context) []Reading {
	if s.conn == nil {
		if s.clock().Now().Before(s.retryAt) {
			return s.unknownAll(s.lastErr) // the same error: the log says it once
		}
		c, err := DialNUT(ctx, s.Addr, s.Timeout)
		if err != nil {
			return s.fail(fmt.Errorf("connect: %w", err))
		}
		s.conn = c
		if s.TLS != nil {
			if err := c.StartTLS(s.TLS); err != nil {
				return s.fail(fmt.Errorf("STARTTLS (nut-tls = yes: nothing is sent in the clear): %w", err))
			}
		}
		if s.User != "" {
			if err := c.Login(s.User, s.Password); err != nil {
				return s.fail(fmt.Errorf("log in as %s: %w", s.User, err))
			}
		}
		if ups := s.loginUPS(); ups != "" {
			var ne *NUTError
			switch err := c.LoginUPS(ups); {
			case errors.As(err, &ne):
				// Refused (ACCESS-DENIED: the user is no upsmon in upsd.users): still a reading.
				s.sayLogin(fmt.Sprintf("WARNING: LOGIN %s refused (%s): the primary upsmon will not wait for this machine before it cuts the power; give %s \"upsmon secondary\" in upsd.users", ups, ne.Code, s.User))
			case err != nil:
				return s.fail(fmt.Errorf("LOGIN %s: %w", ups, err))
			default:
				s.sayLogin(fmt.Sprintf("logged in to %s as %s (upsd counts this machine in NUMLOGINS: its primary waits for it before it cuts the power)", ups, s.User))
			}
		}
		if s.backoff != 0 {
			s.logf("upsd %s: connected again", s.Addr)
		}
	}
	names, err := s.upsNames()
	if err != nil {
		return s.fail(err)
	}
	s.names = names
	var out []Reading
	for _, n := range names {
		r, err := s.pollUPS(n)
		var ne *NUTError
		if err != nil && !errors.As(err, &ne) {
			return s.fail(err)
		}
		out = append(out, r)
	}
	s.backoff, s.lastErr = 0, nil
	return out
}

func (s *NUTSource) upsNames() ([]string, error) {
	var out []string
	for _, n := range s.UPS {
		if n != "*" {
			out = append(out, n)
			continue
		}
		all, err := s.conn.ListUPS()
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("LIST UPS: the server serves no UPS")
		}
		out = append(out, all...)
	}
	return out, nil
}

// pollUPS reads one UPS; a *NUTError leaves the reading unknown (or a variable unreported) and
// the connection usable, any other error means the connection is broken.
func (s *NUTSource) pollUPS(name string) (Reading, error) {
	r := unknown(name+"@"+s.Addr, nil)
	status, err := s.conn.GetVar(name, "ups.status")
	if err != nil {
		r.Err = err
		return r, err
	}
	parseNUTStatus(&r, status)
	for _, v := range []string{"battery.charge", "battery.runtime"} {
		val, err := s.conn.GetVar(name, v)
		var ne *NUTError
		if errors.As(err, &ne) {
			continue // not every UPS reports both
		}
		if err != nil {
			return r, err
		}
		f, perr := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if perr != nil || f < 0 {
			continue
		}
		if v == "battery.charge" {
			r.Charge = f
		} else {
			r.Runtime = time.Duration(f * float64(time.Second))
		}
	}
	return r, nil
}
