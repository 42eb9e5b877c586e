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
	neu, added := editGrub("GRUB_DEFAULT=0\n", func(v string) string { s, _ := setParams(v, []string{"resume=UUID=a"}); return s })
	if !added || neu != "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"resume=UUID=a\"\n" {
		t.Fatalf("editGrub added %v: %q", added, neu)
	}
	q, v := grubValue(`'quiet splash'`)
	if q != "'" || v != "quiet splash" {
		t.Fatalf("grubValue: %q %q", q, v)
	}
}
