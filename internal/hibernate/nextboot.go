package hibernate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/efivars"
	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/swapsetup"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// resumeSource is one place that tells the next boot where the image is.
type resumeSource struct {
	from   string // "/proc/cmdline", "/boot/grub/grub.cfg", "the initramfs's config"…
	spec   string // resume=
	offset uint64 // resume_offset= (0 when not given)
}

// checkNextBoot answers: will the boot after the hibernation look for the image where the
// kernel writes it? The kernel writes to /sys/power/resume (devt) at resume_offset (offset); the next
// boot looks where its command line says (this boot's, GRUB's menu and defaults, kernel-install's
// command line: each must agree), else where its initramfs says. Every one of them that names a
// place must name that one; and one of them must name it, unless our /init boots next (it scans),
// or the next boot's initramfs reads the HibernateLocation EFI variable loc that Now writes on a
// UEFI machine (our /init built for this system, or systemd's initrd that takes it as this
// system's: readsLocation); needsLoc then says that the next boot counts on it; locErr says why
// there is no loc.
func checkNextBoot(fs sysfs.FS, devt string, offset uint64, ic *initramfs.Contents, loc *efivars.HibernateLocation, locErr error) (c CheckResult, needsLoc bool) {
	c = CheckResult{Name: "next-boot"}
	if devt == "" {
		c.OK, c.Detail = true, "no resume device yet: see the resume-device check"
		return c, false
	}
	where := fmt.Sprintf("%s at page %d", devt, offset)
	sources, bad := commandLineSources(fs)
	if len(sources) == 0 && ic != nil {
		if spec, off, ok := ic.ResumeConfig(); ok {
			sources = append(sources, resumeSource{from: "the initramfs (no resume= on the command line)", spec: spec, offset: off})
		}
	}
	for _, s := range sources {
		if why := s.differsFrom(fs, devt, offset); why != "" {
			bad = append(bad, why)
		}
	}
	reader, whyNotLoc, readsLoc := readsLocation(fs, ic, loc)
	switch {
	case len(bad) > 0:
		c.Detail = fmt.Sprintf("the image goes to %s, but %s", where, strings.Join(bad, "; "))
		c.Fix = "hibernate setup --write-boot-config (then update-grub, and hibernate initramfs build), or correct resume= and resume_offset= there"
	case len(sources) == 0 && readsLoc:
		c.OK, needsLoc = true, true
		c.Detail = fmt.Sprintf("the image goes to %s; nothing names it for the next boot but systemd's HibernateLocation EFI variable, which hibernate now writes (UUID=%s at page %d) and %s reads", where, loc.UUID, loc.Offset, reader)
	case len(sources) == 0 && ic != nil && ic.Ours() && offset == 0:
		c.OK = true
		c.Detail = fmt.Sprintf("the image goes to %s; nothing names it for the next boot, whose /init (hibernate's) scans the disks for an image of this root", where)
	case len(sources) == 0:
		c.Detail = fmt.Sprintf("the image goes to %s, and nothing tells the next boot to look there: no resume= on the command line or in the boot configuration, none in the initramfs", where)
		if offset != 0 {
			c.Detail += " (a swap file's image cannot be found by a scan: the next boot needs resume_offset=)"
		}
		switch {
		case locErr != nil:
			c.Detail += fmt.Sprintf("; systemd's HibernateLocation EFI variable cannot be written: %v", locErr)
		case whyNotLoc != "":
			c.Detail += "; hibernate now writes systemd's HibernateLocation EFI variable, but " + whyNotLoc
		}
		c.Fix = "hibernate setup --write-boot-config (then update-grub and hibernate initramfs build)"
	default:
		var from []string
		for _, s := range sources {
			from = append(from, s.from)
		}
		c.OK = true
		c.Detail = fmt.Sprintf("the next boot looks for the image where it goes (%s), as %s say", where, strings.Join(from, ", "))
	}
	return c, needsLoc
}

// commandLineSources are the command lines of this boot and the next that name resume=, and
// what is wrong with those that cannot be read.
func commandLineSources(fs sysfs.FS) (sources []resumeSource, bad []string) {
	var params []swapsetup.BootParams
	if cmdline, err := fs.Cmdline(); err == nil {
		params = append(params, swapsetup.ParseBootParams("/proc/cmdline", cmdline))
	}
	params = append(params, swapsetup.ReadBootParams(fs)...)
	seen := map[resumeSource]bool{}
	for _, p := range params {
		if p.Resume == "" && p.ResumeOffset == "" {
			continue
		}
		off, err := strconv.ParseUint(strings.TrimSpace(p.ResumeOffset), 10, 64)
		if p.ResumeOffset == "" {
			off, err = 0, nil
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s has resume_offset=%s, which the kernel does not read as a number", p.File, p.ResumeOffset))
			continue
		}
		if p.Resume == "" {
			bad = append(bad, fmt.Sprintf("%s has resume_offset=%s without resume=", p.File, p.ResumeOffset))
			continue
		}
		s := resumeSource{from: p.File, spec: p.Resume, offset: off}
		if !seen[s] { // GRUB's menu names it once per entry
			seen[s] = true
			sources = append(sources, s)
		}
	}
	return sources, bad
}

// differsFrom says how the place s names differs from the one the image goes to, or "".
func (s resumeSource) differsFrom(fs sysfs.FS, devt string, offset uint64) string {
	d, err := blockdev.Find(fs, s.spec)
	switch {
	case err != nil:
		return fmt.Sprintf("%s names resume=%s, which is no device here (%v)", s.from, s.spec, err)
	case d.DevT() != devt:
		return fmt.Sprintf("%s names resume=%s, which is %s (%s)", s.from, s.spec, d.Path, d.DevT())
	case s.offset != offset && offset != 0 && s.offset == 0:
		return fmt.Sprintf("%s has resume=%s but no resume_offset= (the swap file's header is at page %d)", s.from, s.spec, offset)
	case s.offset != offset:
		return fmt.Sprintf("%s has resume_offset=%d (the image's header is at page %d)", s.from, s.offset, offset)
	}
	return ""
}

func readOr(fs sysfs.FS, name, def string) string {
	if v, err := fs.ReadString(name); err == nil {
		return v
	}
	return def
}
