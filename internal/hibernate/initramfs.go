package hibernate

import (
	"fmt"
	"os"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/imagerecord"
	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/sdboot"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// checkInitramfs answers: will the initramfs the running kernel boots with try to resume?
// It looks where distributions put it (the names the image record knows), or, where systemd-boot
// has an entry for the kernel, at the initramfs that entry loads from the EFI system partition
// (kernel-install's copy), and reads it with initramfs.Inspect.
func checkInitramfs(fs sysfs.FS) (c CheckResult, ic *initramfs.Contents) {
	c = CheckResult{Name: "initramfs"}
	u, err := fs.Uname()
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read the running kernel's release: %v", err)
		c.Fix = "mount /proc"
		return c, nil
	}
	release := u.Release
	_, candidates := imagerecord.KernelFiles(release)
	p := ""
	for _, n := range candidates {
		if fs.Exists(strings.TrimPrefix(n, "/")) {
			p = n
			break
		}
	}
	entries, _ := sdboot.Entries(fs) // one that cannot be read: /boot's is looked at
	if e, ok := sdboot.For(entries, release); ok && e.InitrdPath() != "" {
		p = "/" + e.InitrdPath()
		if !fs.Exists(e.InitrdPath()) {
			c.Detail = fmt.Sprintf("systemd-boot's entry %s boots %s with %s, which is not there", e.File, release, p)
			c.Fix = "hibernate initramfs build (its boot loader hook has kernel-install copy it to the EFI system partition)"
			return c, nil
		}
	}
	if p == "" {
		c.Detail = fmt.Sprintf("no initramfs for the running kernel %s (looked for %s)", release, strings.Join(candidates, ", "))
		c.Fix = "hibernate initramfs build (writes /boot/initrd.img-" + release + ")"
		return c, nil
	}
	f, err := os.Open(fs.Path(strings.TrimPrefix(p, "/")))
	if err != nil {
		c.Detail = fmt.Sprintf("cannot open the initramfs %s: %v", p, err)
		c.Fix = "run hibernate check as root"
		return c, nil
	}
	defer f.Close()
	contents, err := initramfs.Inspect(f)
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read the initramfs %s: %v", p, err)
		c.Fix = "hibernate initramfs build (writes an initramfs that resumes)"
		return c, nil
	}
	ic = &contents
	what, ok := ic.ResumeSupport(release)
	desc := fmt.Sprintf("%s (%s, %d cpio archive(s), %d entries)", p, ic.Compression, ic.Archives, len(ic.Names))
	if ic.OursAtStart {
		desc = fmt.Sprintf("%s (%s, read up to hibernate's config in its first archive)", p, ic.Compression)
	}
	if !ok {
		c.Detail = desc + " has nothing that resumes: no /init of hibernate, no initramfs-tools resume script, no dracut resume hook, no systemd-hibernate-resume"
		c.Fix = "hibernate initramfs build, or your distribution's initramfs with resume support (update-initramfs -u with RESUME set, or dracut with the resume module)"
		return c, nil
	}
	c.OK = true
	c.Detail = desc + ": " + what
	return c, ic
}
