package cli

import (
	"fmt"

	"github.com/hibernate-linux/hibernate/internal/hibernate"
	"github.com/hibernate-linux/hibernate/internal/sysfs"
)

// checkArgs is the parsed command line of check.
type checkArgs struct {
	asJSON bool
	root   string
}

func checkFlags(env Env) (*flagSet, *checkArgs) {
	var a checkArgs
	fs := newFlags(env, "check", "[--json] [--root DIR]", `
Says whether hibernation, now, on this machine, will come back: kernel support, lockdown,
the kernel command line, not in a container, swap (disk swap free against the image's
estimate: AnonPages + Shmem), the resume device (a partition, or a swap file at
resume_offset), our image record in the swap header (so a boot under another kernel can
kexec into this one), and the initramfs of the running kernel (ours, or another with resume
support: it says which). Each check prints its reason and, where it fails, the fix.
On an EFI machine it also shows systemd's HibernateLocation variable when one is set, and
whether it is this system's. Changes nothing.
Exit status: 0 ready, 1 not ready, 2 cannot tell.`)
	fs.BoolVar(&a.asJSON, "json", false, `print {"ready": bool, "checks": [{"name","ok","detail","fix"}], "resume_devt", "resume_offset", "hibernation_file"?, "hibernate_location"?: {"location","device","matches","detail"}}`)
	fs.StringVar(&a.root, "root", "/", "the machine's root (a fake tree in tests)")
	return fs, &a
}

func runCheck(env Env, args []string) error {
	fs, a := checkFlags(env)
	if err := parse(fs, args); err != nil {
		return err
	}
	rep := hibernate.Check(sysfs.New(a.root))
	loc := readEFILocation(a.root) // shown, not judged: systemd-sleep writes it anew at each hibernation
	if a.asJSON {
		out := struct {
			hibernate.Report
			HibernateLocation *efiLocation `json:"hibernate_location,omitempty"`
		}{rep, loc}
		if err := printJSON(env.Stdout, out); err != nil {
			return err
		}
	} else {
		printReport(env, rep)
		printEFILocation(env.Stdout, loc)
	}
	if !rep.Ready {
		return &ExitError{Code: 1, Err: fmt.Errorf("not ready: %d check(s) failed", len(rep.Failed()))}
	}
	return nil
}

func printReport(env Env, rep hibernate.Report) {
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(env.Stdout, "%s %-14s %s\n", mark, c.Name, c.Detail)
		if !c.OK && c.Fix != "" {
			fmt.Fprintf(env.Stdout, "     %-14s fix: %s\n", "", c.Fix)
		}
	}
	if rep.Ready {
		fmt.Fprintln(env.Stdout, "ready: hibernation will come back")
	} else {
		fmt.Fprintln(env.Stdout, "not ready: hibernation would not come back")
	}
}
