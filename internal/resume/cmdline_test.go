package resume

import (
	"testing"
	"time"
)

func TestParseCmdline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Params
	}{
		{"", Params{ReadOnly: true, Wait: DefaultWait}},
		{"BOOT_IMAGE=/vmlinuz root=UUID=abc ro quiet resume=UUID=1234-5 resume_offset=34816\n",
			Params{Root: "UUID=abc", ReadOnly: true, Resume: "UUID=1234-5", ResumeOffset: 34816, HasOffset: true, Wait: DefaultWait}},
		{"root=/dev/vda1 rw noresume", Params{Root: "/dev/vda1", NoResume: true, Wait: DefaultWait}},
		{"hibernate=noresume resumewait resumedelay=3", Params{NoResume: true, ResumeWait: true, ResumeDelay: 3 * time.Second, ReadOnly: true, Wait: DefaultWait}},
		{`root="LABEL=my root" rootfstype=ext4 rootflags=noatime init=/sbin/init`,
			Params{Root: "LABEL=my root", RootFSType: "ext4", RootFlags: "noatime", Init: "/sbin/init", ReadOnly: true, Wait: DefaultWait}},
		{"hibernate.kexec=1 hibernate.keep hibernate.wait=2.5 resume=254:2",
			Params{Kexeced: true, Keep: true, Wait: 2500 * time.Millisecond, Resume: "254:2", ReadOnly: true}},
		{"hibernate.kexec=0", Params{ReadOnly: true, Wait: DefaultWait}},
	} {
		got, err := ParseCmdline(tc.in)
		if err != nil {
			t.Errorf("ParseCmdline(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseCmdline(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseCmdlineErrors(t *testing.T) {
	for _, in := range []string{"resume_offset=x", "resumedelay=soon", "hibernate.wait=forever"} {
		if _, err := ParseCmdline(in); err == nil {
			t.Errorf("ParseCmdline(%q): no error", in)
		}
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add("root=/dev/vda1 resume=UUID=x resume_offset=1 \"a b\"")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseCmdline(s)
	})
}
