// Package demojob is the long computation of the demo and the end-to-end tests: it holds a
// block of state in memory, keeps one file open and appends a line to it every tick, and says
// `count=N sum=S`, S being a checksum of its whole in-memory state. After a hibernation and a
// resume the same process goes on: the count continues without a gap or a restart, and the
// checksum is unchanged.
package demojob

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"
)

// Where the job keeps its files in a guest, and how it marks its console lines.
const (
	Dir           = "/var/lib/hibernate-demo" // the demo's folder in a guest
	LogPath       = Dir + "/job.log"          // the job's log, kept open (--log)
	ConsolePrefix = "demo-job: "              // begins each line the job says on the console
)

// Options of one job.
type Options struct {
	StateBytes int
	Interval   time.Duration
	Log        io.Writer // the open file the job appends to
	Console    io.Writer // where each line is also said (nil: nowhere)
	Seed       uint64
	Ticks      int // stop after this many ticks (0: never)
}

// Fill makes the job's state: pseudo-random bytes (xorshift64*) from seed, so that no page of it
// is zero or shared and every one must be saved in the image.
func Fill(state []byte, seed uint64) {
	x := seed | 1
	for i := 0; i+8 <= len(state); i += 8 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		v := x * 2685821657736338717
		for j := 0; j < 8; j++ {
			state[i+j] = byte(v >> (8 * j))
		}
	}
}

var table = crc32.MakeTable(crc32.Castagnoli)

// Sum is the checksum of the whole state, read again every time.
func Sum(state []byte) uint32 { return crc32.Checksum(state, table) }

// Run is the job: it returns only when Ticks have passed or a write fails.
func Run(o Options) error {
	state := make([]byte, o.StateBytes)
	Fill(state, o.Seed)
	say := func(line string) error {
		if _, err := fmt.Fprintln(o.Log, line); err != nil {
			return fmt.Errorf("append to the job's log: %w", err)
		}
		if o.Console != nil {
			fmt.Fprintln(o.Console, ConsolePrefix+line)
		}
		return nil
	}
	if err := say(fmt.Sprintf("start pid=%d state=%d", os.Getpid(), o.StateBytes)); err != nil {
		return err
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for n := 1; o.Ticks == 0 || n <= o.Ticks; n++ {
		<-t.C
		if err := say(fmt.Sprintf("count=%d sum=%08x", n, Sum(state))); err != nil {
			return err
		}
	}
	return nil
}

// Line is one `count=N sum=S` line.
type Line struct {
	Count int
	Sum   string
}

var lineRE = regexp.MustCompile(`count=(\d+) sum=([0-9a-f]{8})`)

// ParseLine finds `count=N sum=S` in a line (of the log or of the console).
func ParseLine(s string) (Line, bool) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return Line{}, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return Line{}, false
	}
	return Line{Count: n, Sum: m[2]}, true
}

// Verify reads a job's whole log and checks that it is one run: a single start line, counts
// 1, 2, 3 … with no gap and no repeat, and one checksum throughout. It returns the last line.
func Verify(r io.Reader) (Line, error) {
	sc := bufio.NewScanner(r)
	starts, want := 0, 1
	var last Line
	sum := ""
	for sc.Scan() {
		text := sc.Text()
		if len(text) >= 6 && text[:6] == "start " {
			starts++
			if starts > 1 {
				return last, fmt.Errorf("the job started again after count=%d: a restart, not a resume", last.Count)
			}
			continue
		}
		l, ok := ParseLine(text)
		if !ok {
			return last, fmt.Errorf("unexpected line %q in the job's log", text)
		}
		if l.Count != want {
			return last, fmt.Errorf("count=%d follows count=%d: a gap in the job's log", l.Count, want-1)
		}
		if sum != "" && l.Sum != sum {
			return last, fmt.Errorf("sum changed from %s to %s at count=%d: memory changed", sum, l.Sum, l.Count)
		}
		sum, last, want = l.Sum, l, want+1
	}
	if err := sc.Err(); err != nil {
		return last, err
	}
	if starts == 0 {
		return last, fmt.Errorf("no start line in the job's log")
	}
	return last, nil
}
