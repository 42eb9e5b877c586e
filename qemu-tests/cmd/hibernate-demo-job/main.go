// Command hibernate-demo-job is the computation that the demo hibernates: see package demojob.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hibernate-linux/hibernate/qemu-tests/demojob"
)

func main() {
	stateMiB := flag.Int("state-mib", 64, "MiB of state held in memory")
	logPath := flag.String("log", demojob.LogPath, "file kept open, a line appended every tick")
	console := flag.String("console", "/dev/console", "also say each line here (\"\" for nowhere)")
	interval := flag.Duration("interval", time.Second, "time between two lines")
	ticks := flag.Int("ticks", 0, "stop after this many lines (0: never)")
	fileMiB := flag.Int("file-mib", 0, "MiB of a file written once and read whole in every pass (the page cache a job's files leave), next to --log")
	pauseFile := flag.String("pause-file", "", "a file that, holding \"pause\", stops the passes (lines say paused) until it holds anything else")
	flag.Parse()
	if err := run(*stateMiB, *logPath, *console, *interval, *ticks, *fileMiB, *pauseFile); err != nil {
		fmt.Fprintf(os.Stderr, "hibernate-demo-job: %v\n", err)
		os.Exit(1)
	}
}

func run(stateMiB int, logPath, console string, interval time.Duration, ticks, fileMiB int, pauseFile string) error {
	if err := os.MkdirAll(dir(logPath), 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	// A live system nearly always holds files open that are deleted (the ext4 orphan list is
	// not empty): so does the job, so that the tests see what a read-only mount of such a file
	// system does to it.
	held, err := holdDeleted(logPath + ".deleted")
	if err != nil {
		return err
	}
	defer held.Close()
	o := demojob.Options{StateBytes: stateMiB << 20, Interval: interval, Log: log, Seed: uint64(time.Now().UnixNano()), Ticks: ticks,
		File: logPath + ".file", FileBytes: fileMiB << 20, PauseFile: pauseFile}
	if console != "" {
		if c, err := os.OpenFile(console, os.O_WRONLY, 0); err == nil {
			defer c.Close()
			o.Console = c
		}
	}
	return demojob.Run(o)
}

func dir(p string) string { return filepath.Dir(p) }

// holdDeleted makes a file of 1 MiB at p, removes its name and keeps it open.
func holdDeleted(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return f, os.Remove(p)
}
