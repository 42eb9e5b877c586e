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
kexec into this one), the initramfs of the running kernel (ours, or another with resume
support: it says which), and the compressor the kernel stores the image with (lz4, on 6.9 and
later, only where the next boot can read it). Each check prints its reason and, where it fails, the fix.
On an EFI machine it also shows systemd's HibernateLocation variable when one is set, and
whether it is this system's. Last, it says how long hibernating would take now, from the
decision to the machine off (the runtime budget 'hibernate watch' keeps a UPS's runtime
above): the image's estimate over the write speed the last 'hibernate canary' measured (or an
assumed one, said), plus the freeze and pre hooks the last hibernation measured, plus a margin.
Changes nothing.
Exit status: 0 ready, 1 not ready, 2 cannot tell.`)
	fs.BoolVar(&a.asJSON, "json", false, `print {"ready": bool, "checks": [{"name","ok","detail","fix"}], "resume_devt", "resume_offset", "hibernation_file"?, "hibernate_location"?: {"location","device","matches","detail"}, "budget"?: {"total_ns","image_bytes","write_bytes_per_s","speed_from","speed_measured",...}}`)
	fs.StringVar(&a.root, "root", "/", "the machine's root (a fake tree in tests)")
	return fs, &a
}

func runCheck(env Env, args []string) error {
	fs, a := checkFlags(env)
	if err := parse(fs, args); err != nil {
		return err
	}
	root := sysfs.New(a.root)
	rep := hibernate.Check(root)
	loc := readEFILocation(a.root) // shown, not judged: systemd-sleep writes it anew at each hibernation
	var budget *hibernate.Budget
	b, berr := hibernate.PredictBudget(root, hibernate.BudgetOptions{})
	if berr == nil {
		budget = &b
	}
	if a.asJSON {
		out := struct {
			hibernate.Report
			HibernateLocation *efiLocation      `json:"hibernate_location,omitempty"`
			Budget            *hibernate.Budget `json:"budget,omitempty"`
		}{rep, loc, budget}
		if err := printJSON(env.Stdout, out); err != nil {
			return err
		}
	} else {
		printReport(env, rep)
		printEFILocation(env.Stdout, loc)
		if berr != nil {
			fmt.Fprintf(env.Stdout, "budget: cannot tell how long hibernating takes: %v\n", berr)
		} else {
			fmt.Fprintf(env.Stdout, "budget: hibernating now takes %s\n", b)
		}
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
