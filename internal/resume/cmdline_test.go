package resume

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hibernate-linux/hibernate/internal/initramfs/config"
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
		{"rd.luks.uuid=luks-0a1b rd.luks.name=2c3d=cryptswap rd.lvm.lv=vg-1/root rd.lvm.lv=vg-1/swap_1",
			Params{ReadOnly: true, Wait: DefaultWait, LVs: []string{"vg-1/root", "vg-1/swap_1"}, Volumes: []config.Volume{
				{Name: "luks-0a1b", Source: "UUID=0a1b"}, {Name: "cryptswap", Source: "UUID=2c3d"}}}},
		{"cryptdevice=UUID=0a1b:cryptroot:allow-discards cryptdevice=/dev/vda3:swap rd.luks=0 rd.lvm=0",
			Params{ReadOnly: true, Wait: DefaultWait, NoLUKS: true, NoLVM: true, Volumes: []config.Volume{
				{Name: "cryptroot", Source: "UUID=0a1b", Discard: true}, {Name: "swap", Source: "/dev/vda3"}}}},
	} {
		got, err := ParseCmdline(tc.in)
		if err != nil {
			t.Errorf("ParseCmdline(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
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
		{"rd.luks.name=nouuid cryptdevice=/dev/vda3 rd.lvm.lv=root rd.lvm.lv=vg/lv", []string{"rd.luks.name=nouuid", "cryptdevice=/dev/vda3", "rd.lvm.lv=root"},
			Params{ReadOnly: true, Wait: DefaultWait, LVs: []string{"vg/lv"}}},
	} {
		got, err := ParseCmdline(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
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
