package harness

import (
	"os"
	"testing"
)

var testTempDir string

// tempDir is a folder for the whole test binary (t.TempDir is per test), removed by TestMain.
func tempDir() (string, error) {
	if testTempDir == "" {
		d, err := os.MkdirTemp("", "harness-test-")
		if err != nil {
			return "", err
		}
		testTempDir = d
	}
	return testTempDir, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	removeAll(testTempDir)
	os.Exit(code)
}
