package resume

import (
	"strings"
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
		{"hibernate=no", Params{NoHibernate: "hibernate=no", ReadOnly: true, Wait: DefaultWait}},
		{"nohibernate noresume", Params{NoHibernate: "nohibernate", NoResume: true, ReadOnly: true, Wait: DefaultWait}},
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

// A bad word is named and ignored; every other word still counts, before and after it.
func TestParseCmdlineErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bad  []string // words the error names
		want Params
	}{
		{"resume_offset= noresume root=/dev/vda1", []string{"resume_offset="},
			Params{NoResume: true, Root: "/dev/vda1", ReadOnly: true, Wait: DefaultWait}},
		{"resume_offset=0x100 resume=UUID=x", []string{"resume_offset=0x100"}, // the kernel reads it in decimal
			Params{Resume: "UUID=x", ReadOnly: true, Wait: DefaultWait}},
		{"resumedelay=soon hibernate.wait=forever rw resume_offset=34816", []string{"resumedelay=soon", "hibernate.wait=forever"},
			Params{ResumeOffset: 34816, HasOffset: true, Wait: DefaultWait}},
		{"hibernate.wait=-1 resumedelay=-3 nohibernate", []string{"hibernate.wait=-1", "resumedelay=-3"},
			Params{NoHibernate: "nohibernate", ReadOnly: true, Wait: DefaultWait}},
	} {
		got, err := ParseCmdline(tc.in)
		if got != tc.want {
			t.Errorf("ParseCmdline(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
		if err == nil {
			t.Errorf("ParseCmdline(%q): no error", tc.in)
			continue
		}
		for _, b := range tc.bad {
			if !strings.Contains(err.Error(), "bad "+b+" (ignored)") {
				t.Errorf("ParseCmdline(%q) = %v, want it to name %s", tc.in, err, b)
			}
		}
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add("root=/dev/vda1 resume=UUID=x resume_offset=1 \"a b\"")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseCmdline(s)
	})
}
