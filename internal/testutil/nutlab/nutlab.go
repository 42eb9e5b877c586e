// Package nutlab runs real Network UPS Tools daemons for tests: upsd with one dummy-ups driver,
// and on request a primary upsmon, on 127.0.0.1, their configuration and state in a temporary
// folder (NUT_CONFPATH, NUT_STATEPATH); the test's cleanup kills them. Debian's nut-server and
// nut-client provide the daemons themselves (/lib/nut/...), not the /usr/sbin wrappers, which
// refuse unless /etc/nut/nut.conf enables them. Nothing here touches the machine's own NUT.
package nutlab

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The daemons.
const (
	Upsd   = "/lib/nut/upsd"
	Dummy  = "/lib/nut/dummy-ups"
	Upsmon = "/lib/nut/upsmon"
)

// The users of upsd.users: Secondary logs in as upsmon secondary does, Primary as the primary
// upsmon, Reader may read but not LOGIN.
const (
	SecondaryUser, SecondaryPassword = "watch", "test-pass"
	PrimaryUser, PrimaryPassword     = "primary", "primary-pass"
	ReaderUser, ReaderPassword       = "reader", "read-pass"
)

// Server is upsd with one dummy-ups UPS.
type Server struct {
	t    testing.TB
	Dir  string
	UPS  string
	Addr string // 127.0.0.1:port
	Port int
	gen  int // mtime generation of the .dev file
	user string
	env  []string
	upsd *exec.Cmd
}

// Missing says why the daemons cannot run here ("" when they can).
func Missing(daemons ...string) string {
	for _, p := range daemons {
		if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
			return fmt.Sprintf("%s is not installed (nut-server, nut-client): run qemu-tests/scripts/deps.sh", p)
		}
	}
	return ""
}

// Start runs dummy-ups for UPS ups with the data dev (Dev) and upsd serving it, and waits until
// upsd serves its data. It skips the test where the daemons are not installed.
func Start(t testing.TB, ups, dev string) *Server {
	t.Helper()
	if reason := Missing(Upsd, Dummy); reason != "" {
		t.Skip(reason)
	}
	// The daemons run as the user the test runs as (as root, -u root: they would drop to nut,
	// which cannot enter the test's 0700 folder).
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // upsd takes it next; a port taken in between fails the wait below, loudly
	n := &Server{t: t, Dir: t.TempDir(), UPS: ups, Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), user: u.Username}
	n.Write("ups.conf", fmt.Sprintf("pollinterval = 1\n[%s]\n\tdriver = dummy-ups\n\tport = %s\n\tdesc = \"hibernate tests\"\n",
		ups, filepath.Join(n.Dir, ups+".dev")))
	n.Write("upsd.conf", fmt.Sprintf("LISTEN 127.0.0.1 %d\nMAXAGE 15\n", port))
	n.Write("upsd.users", fmt.Sprintf("[%s]\n\tpassword = %s\n\tupsmon secondary\n[%s]\n\tpassword = %s\n\tupsmon primary\n[%s]\n\tpassword = %s\n",
		SecondaryUser, SecondaryPassword, PrimaryUser, PrimaryPassword, ReaderUser, ReaderPassword))
	n.SetDev(dev)
	n.env = append(os.Environ(), "NUT_CONFPATH="+n.Dir, "NUT_STATEPATH="+n.Dir, "NUT_ALTPIDPATH="+n.Dir)
	n.start(Dummy, "-a", ups, "-F")
	n.WaitFor("the driver's socket", 10*time.Second, func() error {
		_, err := os.Stat(filepath.Join(n.Dir, "dummy-ups-"+ups))
		return err
	})
	n.StartUpsd()
	return n
}

// Cleanup runs f at the end of the test that started the server.
func (n *Server) Cleanup(f func()) { n.t.Cleanup(f) }

// Write writes a file of the daemons' folder, mode 0600.
func (n *Server) Write(name, content string) {
	n.t.Helper()
	if err := os.WriteFile(filepath.Join(n.Dir, name), []byte(content), 0o600); err != nil {
		n.t.Fatal(err)
	}
}

// start runs a NUT daemon in the foreground, its output in the folder; the test's end kills it.
func (n *Server) start(name string, args ...string) *exec.Cmd {
	t := n.t
	t.Helper()
	if os.Geteuid() == 0 {
		args = append(args, "-u", n.user)
	}
	logf, err := os.OpenFile(filepath.Join(n.Dir, filepath.Base(name)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = n.env, logf, logf, n.Dir
	// Killed with the test binary, should it die before its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // this process, by its pid: nothing else
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s %s:\n%s", name, strings.Join(args, " "), b)
		}
	})
	return cmd
}

// StartUpsd starts upsd and waits (10 s at most) until it serves the UPS's data.
func (n *Server) StartUpsd() {
	n.t.Helper()
	n.upsd = n.start(Upsd, "-F")
	n.WaitFor("upsd to serve the UPS", 10*time.Second, func() error {
		st, err := n.Get("VAR " + n.UPS + " ups.status")
		if err == nil && st == "WAIT" { // upsd's answer before the driver's first data
			err = fmt.Errorf("status %s", st)
		}
		return err
	})
}

// StopUpsd kills upsd (the driver goes on).
func (n *Server) StopUpsd() {
	n.upsd.Process.Kill()
	n.upsd.Wait()
}

// SetDev replaces the dummy's data file whole (a rename, so the driver never reads half of it)
// with a modification time of its own: dummy-ups (mode dummy-once) re-reads the file when its
// time changes, and two edits within one second must not look the same.
func (n *Server) SetDev(content string) {
	n.t.Helper()
	p := filepath.Join(n.Dir, n.UPS+".dev")
	n.Write(n.UPS+".dev.new", content)
	n.gen++
	mt := time.Now().Add(time.Duration(n.gen) * time.Second)
	if err := os.Chtimes(p+".new", mt, mt); err != nil {
		n.t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		n.t.Fatal(err)
	}
}

// Dev is dummy-ups's data: a status, the charge and the runtime in seconds.
func Dev(status string, charge, runtime int) string {
	return fmt.Sprintf("ups.status: %s\nbattery.charge: %d\nbattery.runtime: %d\nups.mfr: hibernate tests\n", status, charge, runtime)
}

// WaitFor polls f every 50 ms until it succeeds, failing the test after limit.
func (n *Server) WaitFor(what string, limit time.Duration, f func() error) {
	n.t.Helper()
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("waited %s for %s: %v", limit, what, err)
}

// Get asks upsd, on a connection of its own, GET what ("VAR ups name", "NUMLOGINS ups") and
// returns the value: the answer's last word, unquoted. It speaks the protocol itself rather than
// through internal/watch's client: testutil sits below watch in the layers (tools/layercheck),
// and the tests of watch's client should not lean on that client to see what upsd counts.
func (n *Server) Get(what string) (string, error) {
	c, err := net.DialTimeout("tcp", n.Addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s\nLOGOUT\n", what); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, strings.Fields(what)[0]+" ") {
		return "", fmt.Errorf("GET %s: %q", what, line)
	}
	i := strings.LastIndexByte(line, ' ')
	return strings.Trim(line[i+1:], `"`), nil
}

// NumLogins is how many connections upsd counts logged in to the UPS.
func (n *Server) NumLogins() (int, error) {
	v, err := n.Get("NUMLOGINS " + n.UPS)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// LoginsAre waits (limit at most) for upsd to count want logins to the UPS.
func (n *Server) LoginsAre(want int, limit time.Duration) {
	n.t.Helper()
	n.WaitFor(fmt.Sprintf("NUMLOGINS %d", want), limit, func() error {
		got, err := n.NumLogins()
		if err == nil && got != want {
			err = fmt.Errorf("NUMLOGINS %d", got)
		}
		return err
	})
}

// Primary is a primary upsmon watching the UPS: at OB LB it sets FSD, waits for the secondaries
// to log out (HOSTSYNC at most), then runs its SHUTDOWNCMD, which here writes the time (Unix
// seconds, with nanoseconds) to ShutdownAt's file and does nothing else.
type Primary struct {
	n    *Server
	file string
}

// StartPrimary runs upsmon as the UPS's primary with HOSTSYNC hostsync.
func (n *Server) StartPrimary(hostsync time.Duration) *Primary {
	n.t.Helper()
	if reason := Missing(Upsmon); reason != "" {
		n.t.Skip(reason)
	}
	p := &Primary{n: n, file: filepath.Join(n.Dir, "shutdown-at")}
	script := filepath.Join(n.Dir, "shutdown.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ndate +%s.%N > "+p.file+".new && mv "+p.file+".new "+p.file+"\n"), 0o700); err != nil {
		n.t.Fatal(err)
	}
	n.Write("upsmon.conf", fmt.Sprintf(`MONITOR %s@%s 1 %s %s primary
MINSUPPLIES 1
SHUTDOWNCMD "%s"
POLLFREQ 1
POLLFREQALERT 1
HOSTSYNC %d
DEADTIME 15
FINALDELAY 0
POWERDOWNFLAG %s
`, n.UPS, n.Addr, PrimaryUser, PrimaryPassword, script, int(hostsync.Seconds()), filepath.Join(n.Dir, "killpower")))
	n.start(Upsmon, "-F")
	return p
}

// ShutdownAt is when the primary ran its SHUTDOWNCMD; false while it has not.
func (p *Primary) ShutdownAt() (time.Time, bool) {
	b, err := os.ReadFile(p.file)
	if err != nil {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

// The tools EnableTLS uses: Debian's upsd is built with NSS, whose certificate database
// certutil makes and pk12util fills; openssl makes the certificate.
const (
	Openssl  = "/usr/bin/openssl"
	Certutil = "/usr/bin/certutil"
	Pk12util = "/usr/bin/pk12util"
)

// EnableTLS gives upsd a self-signed certificate for 127.0.0.1 and localhost (an NSS database,
// CERTPATH and CERTIDENT in upsd.conf, as NUT 2.8's NSS build wants) and restarts it; it
// returns the certificate's PEM file, for the client to trust. Plain connections still work
// (upsd offers STARTTLS, it does not demand it). Another certificate, for a client that must
// refuse it, is in the folder as OtherCert.
func (n *Server) EnableTLS() (certPEM string) {
	t := n.t
	t.Helper()
	if reason := Missing(Openssl, Certutil, Pk12util); reason != "" {
		t.Skip(reason)
	}
	sh := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = n.Dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	for _, name := range []string{"server", "other"} {
		sh(Openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			"-keyout", name+"-key.pem", "-out", name+".pem", "-days", "2", "-subj", "/CN=localhost",
			"-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
	}
	sh(Openssl, "pkcs12", "-export", "-in", "server.pem", "-inkey", "server-key.pem", "-name", "server", "-out", "server.p12", "-passout", "pass:p12")
	db := filepath.Join(n.Dir, "nssdb")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	sh(Certutil, "-N", "-d", "sql:"+db, "--empty-password")
	sh(Pk12util, "-i", "server.p12", "-d", "sql:"+db, "-W", "p12", "-K", "")
	b, err := os.ReadFile(filepath.Join(n.Dir, "upsd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	n.Write("upsd.conf", string(b)+fmt.Sprintf("CERTPATH %s\nCERTIDENT \"server\" \"\"\n", db))
	n.StopUpsd()
	n.StartUpsd()
	return filepath.Join(n.Dir, "server.pem")
}

// OtherCert is the PEM file of a certificate upsd does not have (EnableTLS made it).
func (n *Server) OtherCert() string { return filepath.Join(n.Dir, "other.pem") }
