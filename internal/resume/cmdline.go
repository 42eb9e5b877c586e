// Package resume is the boot-time half of hibernate: what our /init reads from the kernel
// command line, how it finds the resume device, what it decides about the image found there,
// and the actions (resume, discard, go on booting) that carry the decision out.
package resume

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Params is what the kernel command line says about resume and the root filesystem.
type Params struct {
	Resume       string // resume= spec ("" when absent)
	ResumeOffset uint64 // resume_offset=, in pages
	HasOffset    bool
	NoResume     bool          // noresume, or hibernate=noresume
	ResumeWait   bool          // resumewait: wait for the device as long as it takes
	ResumeDelay  time.Duration // resumedelay=SECONDS
	Root         string
	RootFSType   string
	RootFlags    string
	ReadOnly     bool   // ro (default) unless rw
	Init         string // init=
	Kexeced      bool   // hibernate.kexec=1: we are the kernel another /init kexec'ed into
	Keep         bool   // hibernate.keep=1: never discard an image; power off instead
	Wait         time.Duration
	Debug        bool
}

// DefaultWait bounds the wait for the resume device when neither resumewait nor hibernate.wait= says otherwise.
const DefaultWait = 10 * time.Second

// ParseCmdline reads /proc/cmdline's text. Unknown words are ignored, as the kernel does; a
// malformed value of ours is an error naming the word.
func ParseCmdline(s string) (Params, error) {
	p := Params{ReadOnly: true, Wait: DefaultWait}
	for _, w := range splitCmdline(s) {
		key, val, hasVal := strings.Cut(w, "=")
		var err error
		switch key {
		case "resume":
			p.Resume = val
		case "resume_offset":
			p.ResumeOffset, err = strconv.ParseUint(val, 0, 64)
			p.HasOffset = err == nil
		case "noresume":
			p.NoResume = true
		case "hibernate":
			if val == "noresume" || val == "no" {
				p.NoResume = true
			}
		case "resumewait":
			p.ResumeWait = true
		case "resumedelay":
			var n int
			n, err = strconv.Atoi(val)
			p.ResumeDelay = time.Duration(n) * time.Second
		case "root":
			p.Root = val
		case "rootfstype":
			p.RootFSType = val
		case "rootflags":
			p.RootFlags = val
		case "ro":
			p.ReadOnly = true
		case "rw":
			p.ReadOnly = false
		case "init":
			p.Init = val
		case "hibernate.kexec":
			p.Kexeced = !hasVal || val == "1"
		case "hibernate.keep":
			p.Keep = !hasVal || val == "1"
		case "hibernate.debug":
			p.Debug = !hasVal || val == "1"
		case "hibernate.wait":
			var secs float64
			secs, err = strconv.ParseFloat(val, 64)
			p.Wait = time.Duration(secs * float64(time.Second))
		}
		if err != nil {
			return p, fmt.Errorf("kernel command line: bad %s: %w", w, err)
		}
	}
	return p, nil
}

// splitCmdline splits on spaces, keeping double-quoted values whole (root="LABEL=my root"),
// and drops the quotes as the kernel's next_arg does.
func splitCmdline(s string) []string {
	var words []string
	var cur strings.Builder
	inQuote := false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
		case !inQuote && (r == ' ' || r == '\n' || r == '\t'):
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}
