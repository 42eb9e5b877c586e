package harness

import (
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	paths := RunPaths{Dir: "/logs/x-1", QMPSocket: "/logs/x-1/qmp.sock", AgentSocket: "/logs/x-1/agent.sock"}
	base := "-nodefaults -no-user-config -display none -machine q35 -accel tcg -cpu max,la57=off"
	console := "-chardev stdio,id=console,signal=off -device isa-serial,chardev=console,index=0"
	qmp := "-chardev socket,id=qmp,path=/logs/x-1/qmp.sock,server=on,wait=off -mon chardev=qmp,mode=control"
	agent := "-chardev socket,id=agent,path=/logs/x-1/agent.sock,server=on,wait=off -device isa-serial,chardev=agent,index=1"
	tests := []struct {
		name string
		spec Spec
		want string // arguments joined by spaces; -append's value is checked apart
	}{
		{name: "defaults", spec: Spec{},
			want: base + " -m 512 -smp 1 " + console + " " + qmp},
		{name: "kernel, agent, no-reboot, extra", spec: Spec{Kernel: "/k", Initrd: "/i", MemoryMiB: 1024, CPUs: 2, Agent: true, NoReboot: true, ExtraArgs: []string{"-S"}},
			want: base + " -m 1024 -smp 2 -kernel /k -append console=ttyS0 -initrd /i " + console + " " + qmp + " " + agent + " -no-reboot -S"},
		{name: "disks", spec: Spec{Disks: []Disk{
			{Path: "/d/root.img"},
			{Path: "/d/a,b.qcow2", Format: "qcow2", Serial: "swap", ReadOnly: true, BPS: 1 << 20, Cache: "unsafe"},
		}},
			want: base + " -m 512 -smp 1 " + console + " " + qmp +
				" -drive file=/d/root.img,format=raw,if=none,id=d0,cache=writeback -device virtio-blk-pci,drive=d0" +
				" -drive file=/d/a,,b.qcow2,format=qcow2,if=none,id=d1,cache=unsafe,readonly=on,throttling.bps-total=1048576 -device virtio-blk-pci,drive=d1,serial=swap"},
		{name: "firmware", spec: Spec{Firmware: &Firmware{Code: "/usr/share/OVMF/OVMF_CODE_4M.fd", Vars: "/g/x,vars.fd"}, Disks: []Disk{{Path: "/d/root.img"}}},
			want: base + " -m 512 -smp 1 -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" +
				" -drive if=pflash,format=raw,unit=1,file=/g/x,,vars.fd " + console + " " + qmp +
				" -drive file=/d/root.img,format=raw,if=none,id=d0,cache=writeback -device virtio-blk-pci,drive=d0"},
		{name: "secure boot firmware", spec: Spec{Firmware: &Firmware{Code: "/c.fd", Vars: "/v.fd", SMM: true}},
			want: "-nodefaults -no-user-config -display none -machine q35,smm=on -accel tcg -cpu max,la57=off -m 512 -smp 1" +
				" -drive if=pflash,format=raw,unit=0,readonly=on,file=/c.fd -drive if=pflash,format=raw,unit=1,file=/v.fd" +
				" -global driver=cfi.pflash01,property=secure,value=on " + console + " " + qmp},
		{name: "machine overrides", spec: Spec{Machine: "pc", Accel: "kvm", CPU: "host"},
			want: "-nodefaults -no-user-config -display none -machine pc -accel kvm -cpu host -m 512 -smp 1 " + console + " " + qmp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.spec.Args(paths), " "); got != tt.want {
				t.Errorf("Args =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestArgsSocketPathWithComma(t *testing.T) {
	a := strings.Join(Spec{Agent: true}.Args(RunPaths{QMPSocket: "/a,b/q", AgentSocket: "/a,b/g"}), " ")
	if !strings.Contains(a, "path=/a,,b/q,") || !strings.Contains(a, "path=/a,,b/g,") {
		t.Errorf("commas not doubled: %s", a)
	}
}

func TestKernelCmdline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "console=ttyS0"},
		{"quiet", "quiet console=ttyS0"},
		{"console=ttyS0,115200 quiet", "console=ttyS0,115200 quiet"},
		{"console=tty0", "console=tty0 console=ttyS0"},
		{"resume=/dev/vda2 console=ttyS0", "resume=/dev/vda2 console=ttyS0"},
	}
	for _, tt := range tests {
		if got := (Spec{Cmdline: tt.in}).KernelCmdline(); got != tt.want {
			t.Errorf("KernelCmdline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLogName(t *testing.T) {
	if got := logName("TestX/sub case"); got != "TestX_sub_case" {
		t.Errorf("logName = %q", got)
	}
	if got := logName(""); got != "vm" {
		t.Errorf("logName(\"\") = %q", got)
	}
}

func TestPrepareCountsBootsAndShortensSockets(t *testing.T) {
	root := t.TempDir()
	long := root + "/" + strings.Repeat("l", 90)
	s := Spec{Name: "TestPrepare", LogDir: root}
	p1, _, err := s.prepare()
	if err != nil {
		t.Fatal(err)
	}
	p2, _, err := s.prepare()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p1.Dir, "/TestPrepare-1") || !strings.HasSuffix(p2.Dir, "/TestPrepare-2") {
		t.Errorf("dirs %s, %s: want -1 then -2", p1.Dir, p2.Dir)
	}
	if p1.AgentSocket != p1.Dir+"/agent.sock" {
		t.Errorf("agent socket %s not in %s", p1.AgentSocket, p1.Dir)
	}
	p3, sockDir, err := Spec{Name: "TestPrepare", LogDir: long}.prepare()
	if err != nil {
		t.Fatal(err)
	}
	defer removeAll(sockDir)
	if sockDir == "" || len(p3.AgentSocket) > maxSocketPath || !strings.HasPrefix(p3.AgentSocket, sockDir) {
		t.Errorf("long dir %s: sockets %s, %s in %q", p3.Dir, p3.QMPSocket, p3.AgentSocket, sockDir)
	}
}
