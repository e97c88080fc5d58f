// Command demo runs Lethe end to end on this machine and prints what it did (make demo):
// a real kube-apiserver and etcd (the envtest binaries), a throwaway PostgreSQL holding a
// booking database of ten years, the manager with every controller and the local job
// runner (the Jobs run `lethe worker` as local processes), the samples of
// config/samples, a retention run and an erasure request. Everything it starts is
// stopped and removed when it ends, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/lethe-operator/lethe/internal/testenv"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		customers = flag.Int("customers", 10000, "customers in the sample booking database")
		binary    = flag.String("lethe", "bin/lethe", "the lethe binary the local job runner starts for each Job")
		timeout   = flag.Duration("timeout", 5*time.Minute, "give up after this long")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	d := &demo{customers: *customers, started: time.Now(), progress: newProgress(os.Stdout)}
	d.out = d.progress
	code := d.main(ctx, *binary)
	d.cleanup()
	if code == 0 {
		fmt.Printf("\nDone in %s. Everything the demo started is stopped and removed; run it again any time.\n",
			time.Since(d.started).Round(time.Second))
	}
	return code
}

// demo is one run of the demo and what it has started.
type demo struct {
	out       io.Writer // the report; it goes through progress
	progress  *progress
	customers int
	started   time.Time
	dir       string // temp dir: manager log
	logPath   string
	undo      []func() // cleanups, run last first
	*cluster
	booking *bookingDB
	// erasureSample is the sample ErasureRequest, filed after the retention run.
	erasureSample *unstructured.Unstructured
}

func (d *demo) main(ctx context.Context, binary string) int {
	root, err := testenv.RepoRoot()
	if err != nil {
		return d.fail(ctx, err)
	}
	if !filepath.IsAbs(binary) {
		binary = filepath.Join(root, binary)
	}
	if _, err := os.Stat(binary); err != nil {
		return d.fail(ctx, fmt.Errorf("%s not found: run `make demo` (it runs `make build` first)", binary))
	}
	if d.dir, err = os.MkdirTemp("", "lethe-demo-"); err != nil {
		return d.fail(ctx, err)
	}
	d.defer_(func() { _ = os.RemoveAll(d.dir) })
	// LETHE_DEMO_LOG keeps the manager's log at that path; by default it goes with the temp dir.
	d.logPath = os.Getenv("LETHE_DEMO_LOG")
	if d.logPath == "" {
		d.logPath = filepath.Join(d.dir, "manager.log")
	}
	logFile, err := os.Create(d.logPath)
	if err != nil {
		return d.fail(ctx, err)
	}
	d.defer_(func() { _ = logFile.Close() })
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))

	d.printf("Lethe demo: a local control plane, PostgreSQL with %d customers over ten years, the manager and its Jobs.\n\n", d.customers)

	if err := d.startCluster(ctx, root, binary); err != nil {
		return d.fail(ctx, err)
	}
	if err := d.startDatabase(ctx); err != nil {
		return d.fail(ctx, err)
	}
	if err := d.applySamples(ctx, root); err != nil {
		return d.fail(ctx, err)
	}
	// A failed retention run or erasure is reported, and the demo goes on to show the
	// rest: what did work, and the resources' status saying what did not.
	var failures []error
	if err := d.retention(ctx); err != nil {
		if ctx.Err() != nil {
			return d.fail(ctx, err)
		}
		failures = append(failures, fmt.Errorf("retention: %w", err))
	}
	if err := d.erasure(ctx); err != nil {
		if ctx.Err() != nil {
			return d.fail(ctx, err)
		}
		failures = append(failures, fmt.Errorf("erasure: %w", err))
	}
	if err := d.showResources(ctx); err != nil {
		return d.fail(ctx, err)
	}
	d.showMetrics()
	if len(failures) > 0 {
		return d.fail(ctx, errors.Join(failures...))
	}
	return 0
}

// defer_ registers a cleanup; cleanup runs them last first.
func (d *demo) defer_(f func()) { d.undo = append(d.undo, f) }

func (d *demo) cleanup() {
	if len(d.undo) > 0 {
		d.progress.step("cleaning up: stopping the manager, PostgreSQL, kube-apiserver and etcd")
	}
	for i := len(d.undo) - 1; i >= 0; i-- {
		d.undo[i]()
	}
	d.progress.clear()
}

// fail says what went wrong, with the end of the manager's log, and returns the exit code.
func (d *demo) fail(ctx context.Context, err error) int {
	d.progress.clear()
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		fmt.Fprintln(os.Stderr, "\ndemo: interrupted; cleaning up")
		return 130
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		fmt.Fprintf(os.Stderr, "\ndemo: timed out (%v)\n", err)
	default:
		fmt.Fprintf(os.Stderr, "\ndemo: %v\n", err)
	}
	if d.logPath != "" {
		if tail := tailOf(d.logPath, 25); tail != "" {
			fmt.Fprintf(os.Stderr, "\nlast lines of the manager's log:\n%s\n", tail)
		}
	}
	return 1
}

func tailOf(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (d *demo) printf(format string, args ...any) {
	fmt.Fprintf(d.out, format, args...)
}
