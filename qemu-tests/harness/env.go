package harness

import (
	"github.com/hibernate-linux/hibernate/internal/testutil"

	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// ModuleRoot returns the folder holding go.mod, searched upwards from the working directory
// (a test's working directory is its package folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or any folder above it", dir)
		}
	}
}

// ErrNoKernel says that no test kernel was found, and how to get one.
var ErrNoKernel = errors.New("no kernel: run make kernels (qemu-tests/scripts/fetch-kernel.sh bookworm-amd64)")

// FindKernel returns $HIBERNATE_TEST_KERNEL, or else a kernel under the test cache's
// kernels/bookworm/*-amd64/boot/vmlinuz-* (testutil.KernelCache: Debian 12's, which make kernels
// fetches; a generic one before a -cloud one), or ErrNoKernel.
func FindKernel() (string, error) {
	if k := os.Getenv("HIBERNATE_TEST_KERNEL"); k != "" {
		if _, err := os.Stat(k); err != nil {
			return "", fmt.Errorf("$HIBERNATE_TEST_KERNEL: %w", err)
		}
		return k, nil
	}
	found, _ := filepath.Glob(filepath.Join(testutil.KernelCache(), "bookworm", "*-amd64", "boot", "vmlinuz-*"))
	if len(found) == 0 {
		return "", ErrNoKernel
	}
	sort.SliceStable(found, func(i, j int) bool {
		ci, cj := strings.Contains(found[i], "cloud"), strings.Contains(found[j], "cloud")
		if ci != cj {
			return !ci
		}
		return found[i] < found[j]
	})
	return found[0], nil
}

// KernelT returns FindKernel's kernel, or skips the test saying why there is none.
func KernelT(t testing.TB) string {
	t.Helper()
	k, err := FindKernel()
	if errors.Is(err, ErrNoKernel) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// BuildAgent builds qemu-tests/cmd/hibernate-guest-agent as a static binary at out.
func BuildAgent(ctx context.Context, out string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./qemu-tests/cmd/hibernate-guest-agent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./qemu-tests/cmd/hibernate-guest-agent: %w\n%s", err, stderr.Bytes())
	}
	return nil
}

// AgentInitramfs writes a newc cpio to out with the agent binary as /init (so it runs as PID 1
// and mounts /proc, /sys, /dev, /tmp, /run itself), /dev/console, and the extra records.
func AgentInitramfs(agent, out string, extra ...cpio.Record) error {
	bin, err := os.ReadFile(agent)
	if err != nil {
		return err
	}
	recs := []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.Directory("proc", 0o555),
		cpio.Directory("sys", 0o555),
		cpio.Directory("tmp", 0o1777),
		cpio.Directory("run", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.StaticRecord(bin, cpio.Info{Name: "init", Mode: cpio.S_IFREG | 0o755}),
	}
	return WriteCPIO(out, append(recs, extra...))
}

// WriteCPIO writes recs, their parent folders first, and the trailer as a newc archive.
func WriteCPIO(out string, recs []cpio.Record) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := cpio.NewDedupWriter(cpio.Newc.Writer(f))
	err = cpio.WriteRecordsAndDirs(w, recs)
	if err == nil {
		err = cpio.WriteTrailer(w)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write cpio %s: %w", out, err)
	}
	return nil
}
