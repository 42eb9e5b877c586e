package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hibernate-linux/hibernate/internal/testutil/faketree"
)

// check ends with the runtime budget, in words and in --json; a tree without /proc/meminfo
// says it cannot tell.
func TestCheckShowsBudget(t *testing.T) {
	tr := faketree.New(t)
	os.Remove(tr.FS().Path("proc/meminfo"))
	if out, _, _ := runCLI("check", "--root", tr.Root); !strings.Contains(out, "budget: cannot tell how long hibernating takes") {
		t.Errorf("without meminfo, check said:\n%s", out)
	}
	tr.Meminfo(map[string]int64{"MemTotal": 1 << 20, "MemFree": 1<<20 - 200<<10, "AnonPages": 100 << 10, "Shmem": 0, "Cached": 50 << 10, "Mapped": 50 << 10})
	out, _, _ := runCLI("check", "--root", tr.Root)
	if !strings.Contains(out, "budget: hibernating now takes about ") || !strings.Contains(out, "image ~200 MiB at 40 MiB/s (assumed") {
		t.Errorf("check said:\n%s", out)
	}
	out, _, _ = runCLI("check", "--json", "--root", tr.Root)
	var rep struct {
		Budget struct {
			Total      int64 `json:"total_ns"`
			ImageBytes int64 `json:"image_bytes"`
			Measured   *bool `json:"speed_measured"`
		} `json:"budget"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Budget.ImageBytes != 200<<20 || rep.Budget.Total <= 0 || rep.Budget.Measured == nil || *rep.Budget.Measured {
		t.Errorf("check --json budget %+v, %v:\n%s", rep.Budget, err, out)
	}
}
