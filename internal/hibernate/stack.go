package hibernate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/crypttab"
	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
	"github.com/hibernate-linux/hibernate/internal/resume"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// checkResumeStack says what the resume device is made of, and whether the next boot can
// bring it up before the resume: a swap encrypted with a new random key at each boot never
// can; our /init brings up LUKS volumes and linear LVs on partitions and disks when its
// initramfs carries cryptsetup and lvm and names the volume and the LV (as initramfs build
// does for this machine); another initramfs needs the tools of each layer.
func checkResumeStack(fs sysfs.FS, devt string, ic *initramfs.Contents) CheckResult {
	c := CheckResult{Name: "resume-stack"}
	if devt == "" {
		c.OK, c.Detail = true, "no resume device yet: see the resume-device check"
		return c
	}
	d, err := blockdev.Find(fs, devt)
	if err != nil {
		c.Detail = fmt.Sprintf("resume device %s: %v", devt, err)
		return c
	}
	layers, err := blockdev.Stack(fs, d.Name)
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	stack := blockdev.DescribeStack(layers)
	c.Detail = fmt.Sprintf("the resume device %s is %s", devt, stack)
	if why, fix := randomKeyLayer(fs, layers); why != "" {
		c.Detail, c.Fix = c.Detail+": "+why, fix
		return c
	}
	if why, fix := unbootableLayer(fs, layers, ic); why != "" {
		c.Detail, c.Fix = c.Detail+": "+why, fix
		return c
	}
	c.OK = true
	return c
}

// randomKeyLayer names a dm-crypt layer that /etc/crypttab keys anew at each boot.
func randomKeyLayer(fs sysfs.FS, layers []blockdev.Layer) (why, fix string) {
	e, ok, err := crypttab.RandomKeyed(fs, blockdev.CryptNames(layers))
	switch {
	case err != nil:
		return err.Error(), "correct " + crypttab.Path
	case ok:
		return e.RandomKeyWhy(), crypttab.RandomKeyFix
	}
	return "", ""
}

// unbootableLayer names a layer the initramfs that boots next cannot bring up.
func unbootableLayer(fs sysfs.FS, layers []blockdev.Layer, ic *initramfs.Contents) (why, fix string) {
	if ic != nil && ic.Ours() {
		return oursCannot(fs, layers, *ic)
	}
	for _, l := range layers {
		if !l.Plain() && ic != nil && !hasTool(ic, l.Kind) {
			return fmt.Sprintf("the initramfs holds no %s to bring up %s", toolOf(l.Kind), l.What),
				"install the initramfs part of " + toolOf(l.Kind) + " (Debian: cryptsetup-initramfs, lvm2) and update-initramfs -u"
		}
	}
	return "", ""
}

// rebuild is the fix where our initramfs lacks what this machine's stacks need.
const rebuild = "hibernate initramfs build: for this machine it carries cryptsetup and lvm and names the volumes and LVs the resume device and root are on"

// oursCannot names a layer our /init cannot bring up: one of a kind it never brings up (as
// initramfs build refuses), or a LUKS volume or LV that this initramfs has no tool for, or does
// not name (nor this boot's command line, with rd.luks.*= or cryptdevice=, rd.lvm.lv=).
func oursCannot(fs sysfs.FS, layers []blockdev.Layer, ic initramfs.Contents) (why, fix string) {
	if why := initramfs.Unsupported(layers); why != "" {
		return "hibernate's /init cannot bring it up: " + why,
			"use the distribution's initramfs with its tools (for Debian: cryptsetup-initramfs, lvm2, mdadm; update-initramfs -u), which hibernate check recognises"
	}
	cfg, _ := ic.Config()
	line, _ := fs.Cmdline()
	// What /init will unlock and activate: its config and this boot's command line, merged as
	// /init merges them (rd.luks=0 and rd.lvm=0 included).
	p, _ := resume.ParseCmdline(line)
	vols, lvs := resume.Volumes(cfg, p), resume.LVs(cfg, p)
	said := func(words ...string) string {
		if cmdlineHas(strings.Fields(line), words...) {
			return "this boot's command line names none of it"
		}
		return "this boot's command line no " + strings.Join(words, "= or ") + "="
	}
	for _, l := range slices.Backward(layers) { // bottom first: what is unlocked first
		switch l.Kind {
		case "crypt":
			if cfg.Tools[initramfs.Cryptsetup] == "" {
				return fmt.Sprintf("hibernate's initramfs holds no cryptsetup to unlock %s", l.What), rebuild
			}
			if !slices.ContainsFunc(vols, func(v config.Volume) bool { return opens(fs, v, l) }) {
				return fmt.Sprintf("hibernate's initramfs does not unlock %s (its config names %s, %s)", l.What, volumeNames(cfg.Volumes), said("rd.luks.*", "cryptdevice")), rebuild
			}
		case "lvm":
			vg, lv, _ := blockdev.SplitLVName(l.DMName)
			if cfg.Tools[initramfs.LVM] == "" {
				return fmt.Sprintf("hibernate's initramfs holds no lvm to activate %s", l.What), rebuild
			}
			if !slices.Contains(lvs, vg+"/"+lv) {
				return fmt.Sprintf("hibernate's initramfs does not activate %s (its config names %s, %s)", l.What, orNone(cfg.LVs), said("rd.lvm.lv")), rebuild
			}
		}
	}
	return "", ""
}

// opens says whether /init's volume v is the crypt layer l: by its name, or by its source
// naming the LUKS device under l (the command line's rd.luks.uuid= opens it as luks-UUID).
func opens(fs sysfs.FS, v config.Volume, l blockdev.Layer) bool {
	if v.Name == l.DMName {
		return true
	}
	if len(l.Slaves) != 1 {
		return false
	}
	d, err := blockdev.Find(fs, v.Source)
	return err == nil && d.Name == l.Slaves[0]
}

// cmdlineHas says whether a word of the command line begins with one of the prefixes (a
// trailing "*" of one stands for the rest of its key: rd.luks.* is rd.luks.uuid=, rd.luks.name=…).
func cmdlineHas(cmdline []string, prefixes ...string) bool {
	for _, w := range cmdline {
		for _, p := range prefixes {
			if strings.HasPrefix(w, strings.TrimSuffix(p, "*")) {
				return true
			}
		}
	}
	return false
}

func volumeNames(vols []config.Volume) string {
	var names []string
	for _, v := range vols {
		names = append(names, v.Name)
	}
	return orNone(names)
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " ")
}

func toolOf(kind string) string {
	switch kind {
	case "crypt":
		return "cryptsetup"
	case "lvm":
		return "lvm"
	case "md":
		return "mdadm"
	}
	return kind
}

// hasTool says whether the initramfs holds the program that brings up a layer of kind.
func hasTool(ic *initramfs.Contents, kind string) bool {
	tool := toolOf(kind)
	for _, dir := range []string{"sbin/", "usr/sbin/", "bin/", "usr/bin/"} {
		if ic.Names[dir+tool] {
			return true
		}
	}
	return false
}
