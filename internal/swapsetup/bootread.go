package swapsetup

import (
	"os"
	"regexp"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sdboot"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// BootParams is what one boot configuration gives the next boot's kernel about resume.
type BootParams struct {
	File         string // as on the machine: /etc/default/grub, /etc/kernel/cmdline, /boot/grub/grub.cfg
	Resume       string // resume= ("" when absent)
	ResumeOffset string // resume_offset= ("" when absent)
}

// grubCfgLinuxRe is a linux line of grub.cfg (its menu entries), with its command line.
var grubCfgLinuxRe = regexp.MustCompile(`^\s*linux(?:efi)?\s+\S+\s*(.*)$`)

// grubLinuxRe is GRUB_CMDLINE_LINUX (every entry's, beside _DEFAULT's for the normal ones).
var grubLinuxRe = regexp.MustCompile(`^(\s*(?:export\s+)?GRUB_CMDLINE_LINUX=)(.*)$`)

// ReadBootParams reads resume= and resume_offset= from each boot configuration present below fs:
// GRUB's generated menu (what the boot loader hands the kernel now), GRUB's defaults (what the
// next update-grub writes into it, as after every kernel upgrade), systemd-boot's entries (what
// it hands the kernel now) and kernel-install's command line (what the next kernel-install add
// writes into them). A value the shell would expand in GRUB's defaults is given as it is written;
// an entry that cannot be read is left out.
func ReadBootParams(fs sysfs.FS) []BootParams {
	var out []BootParams
	entries, _ := sdboot.Entries(fs)
	for _, e := range entries {
		out = append(out, ParseBootParams(e.File, e.Options))
	}
	if b, err := os.ReadFile(fs.Path("boot/grub/grub.cfg")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if m := grubCfgLinuxRe.FindStringSubmatch(l); m != nil {
				out = append(out, ParseBootParams("/boot/grub/grub.cfg", m[1]))
			}
		}
	}
	if b, err := os.ReadFile(fs.Path(grubDefaultName)); err == nil {
		var words []string
		for _, re := range []*regexp.Regexp{grubLinuxRe, grubLineRe} {
			if v, ok := lastAssignment(string(b), re); ok {
				words = append(words, v)
			}
		}
		out = append(out, ParseBootParams("/"+grubDefaultName, strings.Join(words, " ")))
	}
	if b, err := os.ReadFile(fs.Path(kernelCmdlineName)); err == nil {
		out = append(out, ParseBootParams("/"+kernelCmdlineName, string(b)))
	}
	return out
}

// lastAssignment is the value the shell keeps of a variable: its last assignment's.
func lastAssignment(text string, re *regexp.Regexp) (string, bool) {
	value, found := "", false
	for _, l := range strings.Split(text, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			_, v, _, err := grubValue(m[2])
			if err != nil {
				v = m[2]
			}
			value, found = v, true
		}
	}
	return value, found
}

// ParseBootParams reads resume= and resume_offset= from a kernel command line (the last of each
// counts, as for the kernel), noting the file it came from.
func ParseBootParams(file, cmdline string) BootParams {
	p := BootParams{File: file}
	for _, w := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(w, "resume="); ok {
			p.Resume = v
		}
		if v, ok := strings.CutPrefix(w, "resume_offset="); ok {
			p.ResumeOffset = v
		}
	}
	return p
}
