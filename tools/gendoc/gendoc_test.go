package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/hibernate-linux/hibernate/cmd/hibernate/cli"
)

// Every flag of every subcommand is in its man page and in both completions: a flag added to a
// subcommand cannot be left out of them.
func TestEveryFlagDocumented(t *testing.T) {
	fs := files("1.0", "2026-01-01")
	bash, zsh := fs["bash-completion/hibernate"], fs["zsh/_hibernate"]
	n := 0
	for _, d := range cli.Documentation().Commands {
		c, _ := words(d)
		if !strings.Contains(fs["man8/hibernate.8"], ".B "+roff(d.Name)+"\n") {
			t.Errorf("hibernate.8 does not list %s", d.Name)
		}
		if !strings.Contains(bash, "\t\""+d.Name+"\")\n") || !strings.Contains(zsh, "'"+c+":") {
			t.Errorf("a completion does not offer %s", c)
		}
		if d.Flags == nil {
			continue
		}
		page, ok := fs["man8/"+pageName(d)+".8"]
		if !ok {
			t.Errorf("no man page for %s", d.Name)
			continue
		}
		if !strings.Contains(page, roff(d.Usage)) {
			t.Errorf("%s: the synopsis is not %q", pageName(d), d.Usage)
		}
		d.Flags.VisitAll(func(f *pflag.Flag) {
			n++
			if !strings.Contains(page, `\fB\-\-`+roff(f.Name)+`\fR`) {
				t.Errorf("%s.8 leaves out --%s", pageName(d), f.Name)
			}
			if !strings.Contains(bash, "--"+f.Name) || !strings.Contains(zsh, "--"+f.Name) {
				t.Errorf("a completion of %s leaves out --%s", d.Name, f.Name)
			}
		})
	}
	if n < 40 {
		t.Fatalf("only %d flags seen in all the subcommands: Documentation lost some", n)
	}
}

// The man page takes --help's description, and the default the annotation gives in place of
// the one found on the generator's machine.
func TestManPageText(t *testing.T) {
	fs := files("1.0", "2026-01-01")
	ini := fs["man8/hibernate-initramfs.8"]
	for _, want := range []string{
		`.TH HIBERNATE\-INITRAMFS 8 "2026-01-01" "hibernate 1.0"`,
		".B hibernate initramfs build\n",
		`(default: PREFIX/lib/hibernate/initramfs\-base.cpio where`,
		`\fB\-\-compress\fR \fIstring\fR` + "\n",
		"(default: zstd)",
	} {
		if !strings.Contains(ini, want) {
			t.Errorf("hibernate-initramfs.8 lacks %q:\n%s", want, ini)
		}
	}
	if chk := fs["man8/hibernate-check.8"]; !strings.Contains(chk, ".SH EXIT STATUS\n"+roff("0 ready, 1 not ready, 2 cannot tell.")) {
		t.Errorf("hibernate-check.8 has no exit status section:\n%s", chk)
	}
}

// Every page renders without a warning from groff.
func TestManPagesRender(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("no groff to render with (apt-get install groff-base)")
	}
	for name, text := range files("1.0", "2026-01-01") {
		if !strings.HasPrefix(name, "man8/") {
			continue
		}
		// man -l at MANWIDTH=80 sets a line of 78n; narrower, a word too long to fit shows.
		cmd := exec.Command("groff", "-man", "-ww", "-z", "-rLL=60n")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff on %s: %v\n%s", name, err, out)
		}
	}
}

// complete runs the bash completion on a command line whose last word is being completed, as
// bash would, and returns COMPREPLY.
func complete(t *testing.T, script string, line ...string) []string {
	t.Helper()
	prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _hibernate; printf '%s\n' "${COMPREPLY[@]}"`
	out, err := exec.Command("bash", append([]string{"-c", prog, "bash", script}, line...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", line, err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "hibernate")
	if err := os.WriteFile(script, []byte(files("1.0", "2026-01-01")["bash-completion/hibernate"]), 0o644); err != nil {
		t.Fatal(err)
	}
	swap := filepath.Join(dir, "swapfile")
	if err := os.WriteFile(swap, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line []string
		want []string
	}{
		{[]string{"hibernate", "se"}, []string{"setup"}},
		{[]string{"hibernate", "setup", "--dev"}, []string{"--device"}},
		{[]string{"hibernate", "setup", "--file", filepath.Join(dir, "sw")}, []string{swap}},
		{[]string{"hibernate", "setup", "--file", "=", filepath.Join(dir, "sw")}, []string{swap}},
		{[]string{"hibernate", "initramfs", "b"}, []string{"build"}},
		{[]string{"hibernate", "initramfs", "build", "--compr"}, []string{"--compress"}},
		{[]string{"hibernate", "initramfs", "build", "--out", filepath.Join(dir, "sw")}, []string{swap}},
		{[]string{"hibernate", "watch", "--power-supply", ""}, []string{"auto", "yes", "no"}},
		{[]string{"hibernate", "watch", "--trigger", "a"}, []string{"any", "all"}},
		{[]string{"hibernate", "inspect", filepath.Join(dir, "sw")}, []string{swap}},
		{[]string{"hibernate", "now", "--mode", ""}, nil},
		{[]string{"hibernate", "nosuch", ""}, nil},
	} {
		got := complete(t, script, tc.line...)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: COMPREPLY %q, want %q", tc.line, got, tc.want)
		}
	}
}

// The zsh completion is valid zsh (where zsh is installed).
func TestZshCompletionSyntax(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh to check the syntax with (apt-get install zsh)")
	}
	cmd := exec.Command("zsh", "-n")
	cmd.Stdin = strings.NewReader(files("1.0", "2026-01-01")["zsh/_hibernate"])
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
}
