// Package demojob is the long computation of the demo and the end-to-end tests: it holds a
// block of state in memory, keeps one file open and appends a line to it every tick, and says
// `count=N pass=D sum=S`, S being a checksum of its whole in-memory state and D the time that
// pass took (with a file of its own, the pass reads the file too: the page cache it keeps). After
// a hibernation and a resume the same process goes on: the count continues without a gap or a
// restart, and the checksum is unchanged; the first pass after the resume is the time the job
// needed to get back what the image left out (pages swapped out, page cache dropped).
package demojob

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
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
	// File, with FileBytes above 0, is a file the job writes once at its start and reads whole
	// in every pass: the page cache a job's files leave.
	File      string
	FileBytes int
	// PauseFile, where it holds "pause", stops the passes: the job goes on ticking, and says
	// `count=N paused sum=S` with the last pass's sum, touching none of its memory. A benchmark
	// pauses the job before a hibernation so that its first pass after the resume is a whole one.
	PauseFile string
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
	if o.FileBytes > 0 {
		if err := writeSynced(o.File, o.FileBytes, o.Seed^0x9e3779b97f4a7c15); err != nil {
			return err
		}
	}
	if err := say(fmt.Sprintf("start pid=%d state=%d file=%d", os.Getpid(), o.StateBytes, o.FileBytes)); err != nil {
		return err
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	var sum uint32
	for n := 1; o.Ticks == 0 || n <= o.Ticks; n++ {
		<-t.C
		if n > 1 && paused(o.PauseFile) {
			if err := say(fmt.Sprintf("count=%d paused sum=%08x", n, sum)); err != nil {
				return err
			}
			continue
		}
		start := time.Now()
		sum = Sum(state)
		if o.FileBytes > 0 {
			if err := readFull(o.File, o.FileBytes); err != nil {
				return err
			}
		}
		pass := time.Since(start)
		if err := say(fmt.Sprintf("count=%d pass=%.3fms sum=%08x", n, float64(pass.Microseconds())/1e3, sum)); err != nil {
			return err
		}
	}
	return nil
}

// paused says whether the file at p (if any) holds "pause".
func paused(p string) bool {
	if p == "" {
		return false
	}
	b, err := os.ReadFile(p)
	return err == nil && strings.HasPrefix(string(b), "pause")
}

// writeSynced writes n pseudo-random bytes (Fill, from seed) to a new file at p, 1 MiB at a
// time, and syncs it: its pages stay in the page cache, clean, and the job keeps no copy.
func writeSynced(p string, n int, seed uint64) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create the job's file %s: %w", p, err)
	}
	chunk := make([]byte, 1<<20)
	for off := 0; off < n; off += len(chunk) {
		b := chunk[:min(len(chunk), n-off)]
		Fill(b, seed+uint64(off))
		if _, err := f.Write(b); err != nil {
			f.Close()
			return fmt.Errorf("write the job's file %s: %w", p, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync the job's file %s: %w", p, err)
	}
	return f.Close()
}

// readFull reads the file at p whole (its size n bytes), 1 MiB at a time: the pass touches
// every page of it in the page cache, and the job holds no more of it than the 1 MiB.
func readFull(p string, n int) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open the job's file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	got := 0
	for got < n {
		k, err := f.Read(buf[:min(len(buf), n-got)])
		got += k
		if err != nil {
			return fmt.Errorf("read the job's file %s: %d of %d bytes: %w", p, got, n, err)
		}
	}
	return nil
}

// Line is one `count=N pass=D sum=S` line.
type Line struct {
	Count  int
	Sum    string
	Pass   time.Duration // the pass's time; 0 where the line has none (an older job, or paused)
	Paused bool          // no pass: the job was paused (Options.PauseFile)
}

// The sum comes last: a line caught half written (the console's) does not match.
var lineRE = regexp.MustCompile(`count=(\d+)(?: pass=(\d+(?:\.\d+)?)ms| (paused))? sum=([0-9a-f]{8})`)

// ParseLine finds `count=N [pass=Dms|paused] sum=S` in a line (of the log or of the console).
func ParseLine(s string) (Line, bool) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return Line{}, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return Line{}, false
	}
	l := Line{Count: n, Sum: m[4], Paused: m[3] != ""}
	if m[2] != "" {
		ms, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return Line{}, false
		}
		l.Pass = time.Duration(ms * float64(time.Millisecond))
	}
	return l, true
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
