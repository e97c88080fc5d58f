package worker_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lethe-operator/lethe/internal/testdb"
)

// servers are shared by the package's tests: one per engine, a database per test.
var servers = map[string]*testdb.Server{}

// lethe is the path of the lethe binary, for the tests that run the worker as a process.
var lethe string

var engines = []string{testdb.Postgres, testdb.MariaDB}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "lethe-worker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	var wg sync.WaitGroup
	var buildErr error
	wg.Go(func() { lethe, buildErr = buildLethe(tmp) })
	started, startErr := testdb.StartServers(engines...)
	wg.Wait()
	defer testdb.StopServers(started)
	if err := errors.Join(buildErr, startErr); err != nil {
		fmt.Fprintln(os.Stderr, "worker tests:", err)
		return 1
	}
	servers = started
	return m.Run()
}

// buildLethe returns the binary `make test` built (LETHE_BINARY) or builds it. When the
// module's other packages do not compile at the moment (work in progress in a shared
// checkout), it builds a stand-in main with the same worker dispatch instead.
func buildLethe(dir string) (string, error) {
	if p := os.Getenv("LETHE_BINARY"); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "lethe")
	b, err := exec.Command("go", "build", "-o", out, "github.com/lethe-operator/lethe").CombinedOutput()
	if err == nil {
		return out, nil
	}
	fmt.Fprintf(os.Stderr, "worker tests: the lethe binary does not build, using a worker-only stand-in:\n%s\n", b)
	return buildWorkerOnly(dir)
}

const workerOnlyMain = `package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lethe-operator/lethe/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 || os.Args[1] != "worker" {
		os.Exit(2)
	}
	os.Exit(worker.Main(ctx, os.Args[2:], os.Stdout, os.Stderr))
}
`

func buildWorkerOnly(dir string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(workerOnlyMain), 0o600); err != nil {
		return "", err
	}
	// The overlay places the file inside the module, where internal packages are visible.
	overlay := filepath.Join(dir, "overlay.json")
	virtual := filepath.Join(wd, "lethe_worker_only", "main.go")
	if err := os.WriteFile(overlay, []byte(fmt.Sprintf(`{"Replace":{%q:%q}}`, virtual, src)), 0o600); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "lethe-worker")
	cmd := exec.Command("go", "build", "-overlay", overlay, "-o", out, "./lethe_worker_only")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build worker stand-in: %v\n%s", err, b)
	}
	return out, nil
}
