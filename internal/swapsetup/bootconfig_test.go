package swapsetup

import (
	"strings"
	"testing"
)

func TestSetParams(t *testing.T) {
	for _, tc := range []struct{ in, want, prev string }{
		{"quiet", "quiet resume=UUID=a resume_offset=5", ""},
		{"resume=/dev/x quiet resume_offset=9", "resume=UUID=a resume_offset=5 quiet", "resume=/dev/x resume_offset=9"},
		{"", "resume=UUID=a resume_offset=5", ""},
	} {
		got, prev := setParams(tc.in, []string{"resume=UUID=a", "resume_offset=5"})
		if got != tc.want || strings.Join(prev, " ") != tc.prev {
			t.Errorf("setParams(%q) = %q %q", tc.in, got, prev)
		}
		if back := unsetParams(got, []string{"resume=UUID=a", "resume_offset=5"}, prev); strings.Join(strings.Fields(back), " ") != strings.Join(strings.Fields(tc.in), " ") && tc.prev == "" {
			t.Errorf("unsetParams back to %q from %q", back, tc.in)
		}
	}
	// GRUB without the variable gets it, and loses it again on undo.
	neu, added, err := editGrub("GRUB_DEFAULT=0\n", func(v string) string { s, _ := setParams(v, []string{"resume=UUID=a"}); return s })
	if err != nil || !added || neu != "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"resume=UUID=a\"\n" {
		t.Fatalf("editGrub added %v: %q, %v", added, neu, err)
	}
}

// GRUB's defaults are a shell file: the value's quote and a comment after it are kept; what
// cannot be edited without changing what the shell reads is refused, the text unchanged.
func TestEditGrubValue(t *testing.T) {
	add := func(v string) string { s, _ := setParams(v, []string{"resume=UUID=a"}); return s }
	for _, tc := range []struct{ in, want, err string }{
		{`GRUB_CMDLINE_LINUX_DEFAULT="quiet"`, `GRUB_CMDLINE_LINUX_DEFAULT="quiet resume=UUID=a"`, ""},
		{`GRUB_CMDLINE_LINUX_DEFAULT='quiet splash'`, `GRUB_CMDLINE_LINUX_DEFAULT='quiet splash resume=UUID=a'`, ""},
		{`GRUB_CMDLINE_LINUX_DEFAULT="quiet" # set by the installer`, `GRUB_CMDLINE_LINUX_DEFAULT="quiet resume=UUID=a" # set by the installer`, ""},
		{`GRUB_CMDLINE_LINUX_DEFAULT=quiet  # bare`, `GRUB_CMDLINE_LINUX_DEFAULT="quiet resume=UUID=a"  # bare`, ""},
		{`export GRUB_CMDLINE_LINUX_DEFAULT=""`, `export GRUB_CMDLINE_LINUX_DEFAULT="resume=UUID=a"`, ""},
		{`GRUB_CMDLINE_LINUX_DEFAULT="quiet $EXTRA"`, "", "uses shell expansion"},
		{`GRUB_CMDLINE_LINUX_DEFAULT="quiet`, "", "quote is not closed"},
		{`GRUB_CMDLINE_LINUX_DEFAULT="a" "b"`, "", `followed by "\"b\""`},
		{`GRUB_CMDLINE_LINUX_DEFAULT=$(cat /etc/x)`, "", "uses shell expansion"},
	} {
		got, _, err := editGrub(tc.in+"\n", add)
		switch {
		case tc.err == "" && (err != nil || got != tc.want+"\n"):
			t.Errorf("editGrub(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || got != tc.in+"\n"):
			t.Errorf("editGrub(%q) = %q, %v; want the text as it was and an error saying %q", tc.in, got, err, tc.err)
		}
	}
}
