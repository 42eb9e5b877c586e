package swapsetup

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/sdboot"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// The boot configurations setup writes resume= and resume_offset= into, when asked: each one
// found (ours always), idempotently, with a backup of each file changed.
const (
	grubDefaultName   = "etc/default/grub"          // GRUB_CMDLINE_LINUX_DEFAULT; update-grub applies it
	kernelCmdlineName = "etc/kernel/cmdline"        // kernel-install and UKI builders read it
	ourConfigName     = "etc/hibernate/resume.json" // read by hibernate's initramfs builder (resume, resume_offset)
)

// BootEdit is one boot configuration file setup changed, enough to take the change back.
type BootEdit struct {
	File    string   `json:"file"`
	Backup  string   `json:"backup,omitempty"`
	Set     []string `json:"set"`               // the parameters setup put there
	Prev    []string `json:"prev,omitempty"`    // the resume=/resume_offset= that were there
	Created bool     `json:"created,omitempty"` // setup made the file (or GRUB's line)
	// Wrote is the whole file setup made, when it made /etc/kernel/cmdline: --undo removes the
	// file only while it still says just that.
	Wrote string `json:"wrote,omitempty"`
}

func isResumeParam(tok string) bool {
	return strings.HasPrefix(tok, "resume=") || strings.HasPrefix(tok, "resume_offset=")
}

// setParams puts want (resume=…, maybe resume_offset=…) in a command line in place of every
// resume= and resume_offset= there, keeping the rest in order. It returns the new line and the
// parameters it replaced.
func setParams(cmdline string, want []string) (string, []string) {
	var out, prev []string
	placed := false
	for _, tok := range strings.Fields(cmdline) {
		if !isResumeParam(tok) {
			out = append(out, tok)
			continue
		}
		prev = append(prev, tok)
		if !placed {
			out = append(out, want...)
			placed = true
		}
	}
	if !placed {
		out = append(out, want...)
	}
	return strings.Join(out, " "), prev
}

// unsetParams takes ours out of a command line and puts prev back where ours were.
func unsetParams(cmdline string, ours, prev []string) string {
	var out []string
	placed := false
	for _, tok := range strings.Fields(cmdline) {
		if isResumeParam(tok) && contains(ours, tok) {
			if !placed {
				out = append(out, prev...)
				placed = true
			}
			continue
		}
		out = append(out, tok)
	}
	// none of ours left: someone changed the line since; prev is not ours to put back
	return strings.Join(out, " ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var grubLineRe = regexp.MustCompile(`^(\s*(?:export\s+)?GRUB_CMDLINE_LINUX_DEFAULT=)(.*)$`)

// grubValue splits a shell assignment's value, as /etc/default/grub (a shell file) holds it, into
// its quote, its content and what follows it on the line (a comment): "quiet" # mine gives ",
// quiet and ` # mine`. A value this cannot edit without changing what the shell makes of it is an
// error: an expansion ($, `), an escape, a quote not closed on the line, more after the value
// than a comment.
func grubValue(v string) (quote, content, rest string, err error) {
	v = strings.TrimLeft(v, " \t")
	end := strings.IndexAny(v, " \t#")
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		quote = v[:1]
		close := strings.IndexByte(v[1:], v[0])
		if close < 0 {
			return "", "", "", fmt.Errorf("GRUB_CMDLINE_LINUX_DEFAULT's %s quote is not closed on its line", quote)
		}
		content, end = v[1:1+close], close+2
	} else {
		quote = `"`
		if i := strings.IndexAny(v, "$`"); i >= 0 && (end < 0 || i < end) {
			return "", "", "", fmt.Errorf("GRUB_CMDLINE_LINUX_DEFAULT=%s uses shell expansion", v)
		}
		if end < 0 {
			end = len(v)
		}
		content = v[:end]
	}
	rest = v[end:]
	if r := strings.TrimLeft(rest, " \t"); r != "" && r[0] != '#' {
		return "", "", "", fmt.Errorf("GRUB_CMDLINE_LINUX_DEFAULT is followed by %q on its line", r)
	}
	if strings.ContainsAny(content, "$`\\") || (quote == `"` && strings.Contains(content, `"`)) {
		return "", "", "", fmt.Errorf("GRUB_CMDLINE_LINUX_DEFAULT=%s%s%s uses shell expansion or escapes", quote, content, quote)
	}
	return quote, content, rest, nil
}

// editGrub applies f to the value of the last GRUB_CMDLINE_LINUX_DEFAULT= (the one the shell
// keeps), keeping its quote and any comment after it, or to "" in a line appended when there is
// none. A value it cannot edit safely (grubValue) is an error, and the text is left as it is.
func editGrub(text string, f func(string) string) (string, bool, error) {
	lines := strings.Split(text, "\n")
	last := -1
	for i, l := range lines {
		if grubLineRe.MatchString(l) {
			last = i
		}
	}
	if last < 0 {
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		return text + `GRUB_CMDLINE_LINUX_DEFAULT="` + f("") + "\"\n", true, nil
	}
	m := grubLineRe.FindStringSubmatch(lines[last])
	q, v, rest, err := grubValue(m[2])
	if err != nil {
		return text, false, fmt.Errorf("/%s line %d: %w: add the parameters there by hand", grubDefaultName, last+1, err)
	}
	lines[last] = m[1] + q + f(v) + q + rest
	return strings.Join(lines, "\n"), false, nil
}

// planBootConfig puts the kernel parameters (resume=, and resume_offset= for a file) into each
// boot configuration found: GRUB's defaults and kernel-install's command line when present, ours
// always. A file that has them already is left as it is.
func planBootConfig(p *Plan) error {
	esp := sdboot.ESP(p.fs)
	for _, c := range []struct {
		name, after string
		set         func(old string, exists bool, e *BootEdit) (string, error)
	}{
		{grubDefaultName, "run update-grub (or grub-mkconfig -o /boot/grub/grub.cfg) for GRUB to use it", setGrub},
		{kernelCmdlineName, kernelCmdlineAfter(esp), setKernelCmdline(p.fs)},
		{ourConfigName, "rebuild the initramfs (hibernate initramfs build) for it to carry the resume device", setOurConfig(p.res)},
	} {
		// kernel-install's command line is made where systemd-boot is installed: without it
		// kernel-install writes each entry with the running boot's command line, which has no
		// resume= yet.
		create := c.name == ourConfigName || c.name == kernelCmdlineName && esp != ""
		if !create && !p.fs.Exists(c.name) {
			continue
		}
		a, err := planEdit(p.fs, bootConfigEdit(p.res, c.name, create, c.set))
		switch {
		case err != nil:
			return err
		case a == nil:
			p.note("/%s already has %s", c.name, p.res.KernelParams)
			continue
		}
		p.add(a)
		if c.after != "" {
			p.note("%s", c.after)
		}
	}
	return nil
}

// kernelCmdlineAfter is what to do after /etc/kernel/cmdline changed: with systemd-boot, have
// kernel-install write the entries again (the initramfs build's boot loader hook does it).
func kernelCmdlineAfter(esp string) string {
	if esp == "" {
		return ""
	}
	return "systemd-boot (on /" + esp + ") takes each entry's options from /etc/kernel/cmdline when kernel-install writes the entry: " +
		"run hibernate initramfs build (its boot loader hook runs kernel-install add) or kernel-install add R /boot/vmlinuz-R for each kernel"
}

// bootConfigEdit is the change of one boot configuration file: the kernel parameters set there
// as they are when it is made (a new file's offset is learned before), recorded for --undo.
func bootConfigEdit(res *Result, name string, create bool, set func(old string, exists bool, e *BootEdit) (string, error)) *editConfig {
	e := &BootEdit{File: name}
	return &editConfig{name: name, create: create, backup: true,
		what: func() string { return fmt.Sprintf("put %s in /%s", res.KernelParams, name) },
		edit: func(old string, exists bool) (string, error) {
			*e = BootEdit{File: name, Set: strings.Fields(res.KernelParams)}
			return set(old, exists, e)
		},
		done: func(r *work, backup string) {
			e.Backup = backup
			r.st.Boot = append(r.st.Boot, *e)
		},
	}
}

func setGrub(old string, _ bool, e *BootEdit) (string, error) {
	neu, added, err := editGrub(old, func(v string) string {
		nv, prev := setParams(v, e.Set)
		e.Prev = prev
		return nv
	})
	e.Created = added
	return neu, err
}

// setKernelCmdline sets the parameters in kernel-install's command line; a new one (systemd-boot
// without it) starts from the running boot's command line, as kernel-install would read it
// (/proc/cmdline without BOOT_IMAGE= and initrd=, which boot loaders add).
func setKernelCmdline(fs sysfs.FS) func(old string, exists bool, e *BootEdit) (string, error) {
	return func(old string, exists bool, e *BootEdit) (string, error) {
		if !exists {
			running, err := fs.ReadString("proc/cmdline")
			if err != nil {
				return "", fmt.Errorf("the running command line, to begin /%s with: %w", kernelCmdlineName, err)
			}
			var keep []string
			for _, tok := range strings.Fields(running) {
				if !strings.HasPrefix(tok, "BOOT_IMAGE=") && !strings.HasPrefix(tok, "initrd=") {
					keep = append(keep, tok)
				}
			}
			old = strings.Join(keep, " ")
		}
		nv, prev := setParams(old, e.Set)
		e.Created = !exists
		if exists {
			e.Prev = prev
		} else {
			e.Wrote = nv + "\n" // the running boot's resume= was in no file: nothing to put back
		}
		return nv + "\n", nil
	}
}

func setOurConfig(res *Result) func(old string, exists bool, e *BootEdit) (string, error) {
	return func(old string, exists bool, e *BootEdit) (string, error) {
		e.Created = !exists
		return editOurConfig(old, res.Resume, res.ResumeOffset, res.File != "", &e.Prev)
	}
}

// editOurConfig sets resume and resume_offset in our JSON config, keeping its other keys, and
// gives the old values as command-line parameters.
func editOurConfig(old, resume string, offset uint64, withOffset bool, prev *[]string) (string, error) {
	m := map[string]any{}
	if strings.TrimSpace(old) != "" {
		if err := json.Unmarshal([]byte(old), &m); err != nil {
			return "", fmt.Errorf("parse: %w", err)
		}
	}
	if v, ok := m["resume"].(string); ok && v != "" {
		*prev = append(*prev, "resume="+v)
	}
	if v, ok := m["resume_offset"].(float64); ok && v != 0 {
		*prev = append(*prev, fmt.Sprintf("resume_offset=%d", uint64(v)))
	}
	m["resume"] = resume
	delete(m, "resume_offset")
	if withOffset {
		m["resume_offset"] = offset
	}
	return marshalConfig(m)
}

func marshalConfig(m map[string]any) (string, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	return string(b) + "\n", nil
}

// planUndoBootEdit takes setup's parameters out of one boot configuration file and puts back what
// was there; our config, made by setup for them alone, is removed.
func planUndoBootEdit(p *Plan, e BootEdit) {
	params := strings.Join(e.Set, " ")
	if e.File == kernelCmdlineName && e.Created && e.Wrote != "" {
		if cur, err := p.fs.ReadString(e.File); err == nil && cur == strings.TrimSpace(e.Wrote) {
			p.add(removeFile{path: "/" + e.File, why: " (setup made it for " + params + ")"})
			return
		}
	}
	if e.File == ourConfigName && e.Created && len(e.Prev) == 0 {
		if p.fs.Exists(e.File) {
			p.add(removeFile{path: "/" + e.File, why: " (setup made it for " + params + ")"})
		} else {
			p.note("/%s is gone already", e.File)
		}
		return
	}
	what := fmt.Sprintf("take %s out of /%s", params, e.File)
	if len(e.Prev) > 0 {
		what += ", putting back " + strings.Join(e.Prev, " ")
	}
	a, err := planEdit(p.fs, &editConfig{name: e.File,
		what: func() string { return what },
		edit: func(old string, _ bool) (string, error) { return unsetBootParams(e, old) },
	})
	switch {
	case err != nil:
		p.problems = append(p.problems, err)
	case a == nil:
		p.note("/%s no longer has setup's parameters", e.File)
	default:
		p.add(a)
	}
}

// unsetBootParams is old, one of the boot configuration files, without setup's parameters and
// with those it replaced.
func unsetBootParams(e BootEdit, old string) (string, error) {
	switch e.File {
	case grubDefaultName:
		neu, _, err := editGrub(old, func(v string) string { return unsetParams(v, e.Set, e.Prev) })
		if err != nil {
			return "", err
		}
		if e.Created {
			neu = strings.Replace(neu, "GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n", "", 1)
		}
		return neu, nil
	case ourConfigName:
		m := map[string]any{}
		if err := json.Unmarshal([]byte(old), &m); err != nil {
			return "", fmt.Errorf("parse: %w", err)
		}
		delete(m, "resume")
		delete(m, "resume_offset")
		for _, p := range e.Prev {
			k, v, _ := strings.Cut(p, "=")
			if k == "resume_offset" {
				var n uint64
				fmt.Sscan(v, &n)
				m[k] = n
			} else {
				m[k] = v
			}
		}
		return marshalConfig(m)
	}
	return unsetParams(old, e.Set, e.Prev) + "\n", nil
}
