package harness

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"time"
)

// console keeps a serial console: every byte goes to the log file as it comes, and the text is
// split into lines for the waits. Waiters are woken by closing changed, which is then replaced.
type console struct {
	log io.Writer

	mu      sync.Mutex
	lines   []string
	at      []time.Time   // when each line's end came (a benchmark's clock, beside the guest's)
	partial []byte        // the line being received
	changed chan struct{} // closed on every new byte and at EOF
	eof     bool
}

func newConsole(log io.Writer) *console {
	return &console{log: log, changed: make(chan struct{})}
}

// Write takes bytes from the guest.
func (c *console) Write(p []byte) (int, error) {
	n := len(p)
	if _, err := c.log.Write(p); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			break
		}
		c.partial = append(c.partial, p[:i]...)
		c.lines = append(c.lines, strings.TrimRight(string(c.partial), "\r"))
		c.at = append(c.at, now)
		c.partial = c.partial[:0]
		p = p[i+1:]
	}
	c.wake()
	return n, nil
}

func (c *console) wake() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// close marks the end of the output; a partial last line becomes a line.
func (c *console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eof {
		return
	}
	if len(c.partial) > 0 {
		c.lines = append(c.lines, strings.TrimRight(string(c.partial), "\r"))
		c.at = append(c.at, time.Now())
		c.partial = nil
	}
	c.eof = true
	c.wake()
}

// find returns the first line after index mark containing substr; the line being received
// counts too (a prompt has no newline), with the index it will have. Else it returns the
// channel to wait on and whether the output has ended.
func (c *console) find(mark int, substr string) (line string, idx int, ok bool, wait <-chan struct{}, eof bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := max(mark+1, 0); i < len(c.lines); i++ {
		if strings.Contains(c.lines[i], substr) {
			return c.lines[i], i, true, nil, false
		}
	}
	if len(c.lines) > mark && bytes.Contains(c.partial, []byte(substr)) {
		return strings.TrimRight(string(c.partial), "\r"), len(c.lines), true, nil, false
	}
	return "", 0, false, c.changed, c.eof
}

// snapshot returns a copy of the complete lines.
func (c *console) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// timed returns a copy of the complete lines with the times their ends came.
func (c *console) timed() ([]string, []time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...), append([]time.Time(nil), c.at...)
}

// tail returns the last n lines, the partial one included.
func (c *console) tail(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lines
	if len(c.partial) > 0 {
		l = append(append([]string(nil), l...), string(c.partial))
	}
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return append([]string(nil), l...)
}
