// Package resume is the boot-time half of hibernate: what our /init reads from the kernel
// command line, how it finds the resume device, what it decides about the image found there,
// and the actions (resume, discard, go on booting) that carry the decision out.
package resume

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
)

// Params is what the kernel command line says about resume and the root filesystem.
type Params struct {
	Resume       string // resume= spec ("" when absent)
	ResumeOffset uint64 // resume_offset=, in pages
	HasOffset    bool
	NoResume     bool          // noresume, or hibernate=noresume: do not resume, invalidate
	NoHibernate  string        // nohibernate or hibernate=no, as written: the kernel takes no image
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
	// Volumes are the LUKS volumes the command line asks to unlock (rd.luks.uuid=,
	// rd.luks.name=, cryptdevice=), on top of the initramfs config's.
	Volumes []config.Volume
	LVs     []string // rd.lvm.lv=VG/LV
	NoLUKS  bool     // rd.luks=0: unlock nothing
	NoLVM   bool     // rd.lvm=0: activate nothing
}

// DefaultWait bounds the wait for the resume device when neither resumewait nor hibernate.wait= says otherwise.
const DefaultWait = 10 * time.Second

// ParseCmdline reads /proc/cmdline's text. Every word is read: unknown words are ignored, as the
// kernel does, and a malformed value of ours is left at its default and named in the error,
// which joins one error per bad word; the Params returned hold every other word, always.
// Numbers are read as the kernel reads them: resume_offset= and resumedelay= in decimal.
func ParseCmdline(s string) (Params, error) {
	p := Params{ReadOnly: true, Wait: DefaultWait}
	var errs []error
	for _, w := range splitCmdline(s) {
		if err := p.set(w); err != nil {
			errs = append(errs, fmt.Errorf("kernel command line: bad %s (ignored): %w", w, err))
		}
	}
	return p, errors.Join(errs...)
}

// set takes one word of the command line into p.
func (p *Params) set(w string) error {
	key, val, hasVal := strings.Cut(w, "=")
	flag := !hasVal || val == "1"
	switch key {
	case "resume":
		p.Resume = val
	case "resume_offset":
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return err
		}
		p.ResumeOffset, p.HasOffset = n, true
	case "noresume":
		p.NoResume = true
	case "nohibernate":
		p.NoHibernate = w
	case "hibernate":
		switch val {
		case "noresume":
			p.NoResume = true
		case "no":
			p.NoHibernate = w
		}
	case "resumewait":
		p.ResumeWait = true
	case "resumedelay":
		n, err := strconv.ParseUint(val, 10, 31)
		if err != nil {
			return err
		}
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
		p.Kexeced = flag
	case "hibernate.keep":
		p.Keep = flag
	case "hibernate.debug":
		p.Debug = flag
	case "rd.luks.uuid":
		uuid := strings.TrimPrefix(val, "luks-")
		p.Volumes = append(p.Volumes, config.Volume{Name: "luks-" + uuid, Source: "UUID=" + uuid})
	case "rd.luks.name":
		// rd.luks.name=UUID=NAME, as systemd-cryptsetup-generator reads it.
		uuid, name, ok := strings.Cut(val, "=")
		if !ok || uuid == "" || name == "" {
			return fmt.Errorf("want rd.luks.name=UUID=NAME")
		}
		p.Volumes = append(p.Volumes, config.Volume{Name: name, Source: "UUID=" + strings.TrimPrefix(uuid, "luks-")})
	case "cryptdevice":
		// cryptdevice=DEVICE:NAME[:OPTIONS], as Arch's encrypt hook reads it; DEVICE may be
		// UUID=…, PARTUUID=… or /dev/….
		parts := strings.Split(val, ":")
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return fmt.Errorf("want cryptdevice=DEVICE:NAME[:allow-discards]")
		}
		v := config.Volume{Source: parts[0], Name: parts[1]}
		if len(parts) > 2 {
			v.Discard = strings.Contains(parts[2], "allow-discards")
		}
		p.Volumes = append(p.Volumes, v)
	case "rd.luks":
		p.NoLUKS = val == "0" || val == "no"
	case "rd.lvm.lv":
		if vg, lv, ok := strings.Cut(val, "/"); !ok || vg == "" || lv == "" {
			return fmt.Errorf("want rd.lvm.lv=VG/LV")
		}
		p.LVs = append(p.LVs, val)
	case "rd.lvm":
		p.NoLVM = val == "0" || val == "no"
	case "hibernate.wait":
		secs, err := strconv.ParseFloat(val, 64)
		if err != nil || secs < 0 || secs > 1e6 {
			return fmt.Errorf("want seconds, from 0 to 1e6")
		}
		p.Wait = time.Duration(secs * float64(time.Second))
	}
	return nil
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
