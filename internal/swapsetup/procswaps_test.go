package swapsetup

import (
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

func TestReadProcSwaps(t *testing.T) {
	tr := faketree.New(t)
	tr.Swap("/dev/vda2                               partition\t524284\t\t1024\t\t-2", "/swap\\040file file 1000 0 5", "/dev/zram0 partition 2000 0 100")
	got, err := ReadProcSwaps(tr.FS())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Filename != "/dev/vda2" || got[0].Size != 524284<<10 || got[0].Free() != (524284-1024)<<10 || got[0].Priority != -2 {
		t.Fatalf("%+v", got)
	}
	if got[1].Filename != "/swap file" || got[1].Type != "file" || !got[2].IsZram() || got[0].IsZram() {
		t.Fatalf("%+v", got)
	}
	tr.Swap("/dev/vda2 partition x 0 0")
	if _, err := ReadProcSwaps(tr.FS()); err == nil {
		t.Fatal("bad line accepted")
	}
}
