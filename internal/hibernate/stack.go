package hibernate

import (
	"fmt"

	"github.com/hibernate-linux/hibernate/internal/blockdev"
	"github.com/hibernate-linux/hibernate/internal/crypttab"
	"github.com/hibernate-linux/hibernate/internal/initramfs"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// checkResumeStack says what the resume device is made of, and whether the next boot can
// bring it up before the resume: a swap encrypted with a new random key at each boot never
// can; our /init brings up plain partitions only (for now); another initramfs needs the tools
// of each layer (cryptsetup, lvm).
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
	if why, fix := unbootableLayer(layers, ic); why != "" {
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
func unbootableLayer(layers []blockdev.Layer, ic *initramfs.Contents) (why, fix string) {
	for _, l := range layers {
		switch {
		case l.Plain():
		case ic != nil && ic.Ours():
			return fmt.Sprintf("hibernate's /init cannot bring up %s yet (it unlocks no dm-crypt and activates no LVM)", l.What),
				"use the distribution's initramfs with its tools (for Debian: cryptsetup-initramfs, lvm2; update-initramfs -u), which hibernate check recognises"
		case ic != nil && !hasTool(ic, l.Kind):
			return fmt.Sprintf("the initramfs holds no %s to bring up %s", toolOf(l.Kind), l.What),
				"install the initramfs part of " + toolOf(l.Kind) + " (Debian: cryptsetup-initramfs, lvm2) and update-initramfs -u"
		}
	}
	return "", ""
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
