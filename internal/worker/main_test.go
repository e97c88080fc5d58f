package worker_test

import (
	"context"
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
	started, startErr := startServers(engines...)
	wg.Wait()
	defer stopServers(started)
	if err := errors.Join(buildErr, startErr); err != nil {
		fmt.Fprintln(os.Stderr, "worker tests:", err)
		return 1
	}
	servers = started
	return m.Run()
}

// buildLethe returns the binary `make test` built (LETHE_BINARY) or builds it.
func buildLethe(dir string) (string, error) {
	if p := os.Getenv("LETHE_BINARY"); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "lethe")
	cmd := exec.Command("go", "build", "-o", out, "github.com/lethe-operator/lethe")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build lethe: %v\n%s", err, b)
	}
	return out, nil
}

// startServers starts the servers side by side: each takes seconds to come up.
func startServers(names ...string) (map[string]*testdb.Server, error) {
	type result struct {
		name string
		s    *testdb.Server
		err  error
	}
	results := make(chan result)
	for _, n := range names {
		go func() {
			s, err := testdb.StartServer(n)
			results <- result{n, s, err}
		}()
	}
	out := map[string]*testdb.Server{}
	var errs []error
	for range names {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		out[r.name] = r.s
	}
	return out, errors.Join(errs...)
}

// stopServers stops the servers side by side, asking each to shut down over SQL first:
// testdb.Stop sends SIGINT, which mariadbd ignores and runuser does not pass on to
// postgres, so each would otherwise wait out testdb's 20 s grace period.
func stopServers(started map[string]*testdb.Server) {
	var wg sync.WaitGroup
	for name, s := range started {
		wg.Go(func() {
			_ = s.Exec(context.Background(), shutdownStatements[name])
			s.Stop()
		})
	}
	wg.Wait()
}

var shutdownStatements = map[string]string{
	testdb.MariaDB: "SHUTDOWN",
	testdb.Postgres: `DO $$ BEGIN EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
		'kill -INT ' || split_part(pg_read_file('postmaster.pid'), E'\n', 1)); END $$`,
}
