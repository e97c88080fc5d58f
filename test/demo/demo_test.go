// Package demo runs `make demo`'s program end to end, twice in a row, as a fresh clone
// would: it must clean up after itself so the second run starts from nothing.
package demo

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/testenv"
)

// The retention rules of config/samples, each with its rows before and after and what
// Lethe reported (e.g. "anonymized 874").
var retentionRows = map[string]*regexp.Regexp{}

func init() {
	for _, rule := range []struct{ name, table, outcome string }{
		{"inactive-customers", "customers", "anonymized"},
		{"invoices-of-inactive", "invoices", "retained"},
		{"old-invoices", "invoices", "anonymized"},
		{"support-mail", "support_tickets", "deleted"},
		{"contact-forms", "contact_requests", "deleted"},
		{"alias-without-consent", "accounts", "anonymized"},
	} {
		retentionRows[rule.name] = regexp.MustCompile(fmt.Sprintf(`(?m)^%s\s+%s\s+\w+\s+.*?\s+(\d+)\s+(\d+)\s+.*\b%s [1-9]\d*`,
			rule.name, rule.table, rule.outcome))
	}
}

var (
	retentionSucceeded = regexp.MustCompile(`== Retention: .*: Succeeded, [1-9]\d* rows`)
	receipt            = regexp.MustCompile(`Receipt: sha256:[0-9a-f]{64}, completed `)
	erasedCustomer     = regexp.MustCompile(`(?m)^hotel-aurora\s+Done\s+customers\s+anonymized\s+1\b`)
	deletedTickets     = regexp.MustCompile(`(?m)^hotel-aurora\s+Done\s+support_tickets\s+deleted\s+[1-9]`)
	retainedInvoices   = regexp.MustCompile(`(?m)^hotel-aurora\s+Done\s+invoices\s+retained\s+[1-9]\d*\s+\d{4}-\d{2}-\d{2}`)
	kubectlGet         = regexp.MustCompile(`(?m)^\$ kubectl get erasurerequests\nNAME\s+FINGERPRINT\s+PHASE.*\nreq-0113\s+hmac-sha256:\S+\s+Complete`)
)

func TestDemoRunsTwiceInARow(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	demo := filepath.Join(dir, "lethe-demo")
	build(t, root, demo, "./hack/demo")
	lethe := os.Getenv("LETHE_BINARY")
	if lethe == "" {
		lethe = filepath.Join(dir, "lethe")
		build(t, root, lethe, ".")
	}
	// The demo's temp dirs go to a directory of this test's own, so that what is left
	// behind is the demo's and not another run's on the same machine.
	// PostgreSQL runs as its own user, so the directory is world-writable like /tmp.
	tmp, err := os.MkdirTemp("", "lethe-demotest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		start := time.Now()
		cmd := exec.Command(demo, "-lethe", lethe)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		t.Logf("run %d took %s", i, time.Since(start).Round(time.Second))
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		check(t, i, out.String())
	}
	leftovers, _ := filepath.Glob(filepath.Join(tmp, "*"))
	for _, l := range leftovers {
		t.Errorf("the demo left %s behind", l)
	}
}

func check(t *testing.T, run int, out string) {
	t.Helper()
	failed := false
	expect := func(what string, re *regexp.Regexp) {
		if !re.MatchString(out) {
			t.Errorf("run %d: the printout does not show %s (%s)", run, what, re)
			failed = true
		}
	}
	expect("a successful retention run", retentionSucceeded)
	for name, re := range retentionRows {
		expect("rule "+name+" with its row counts", re)
		if m := re.FindStringSubmatch(out); m != nil && m[1] == m[2] && name != "invoices-of-inactive" {
			t.Errorf("run %d: rule %s covers %s rows before and %s after the run", run, name, m[1], m[2])
			failed = true
		}
	}
	expect("the erased customer", erasedCustomer)
	expect("the deleted support tickets", deletedTickets)
	expect("the invoices retained under the bookkeeping hold", retainedInvoices)
	expect("the erasure receipt", receipt)
	expect("kubectl get erasurerequests with the request Complete", kubectlGet)
	if failed {
		t.Logf("run %d printed:\n%s", run, out)
	}
}

func build(t *testing.T, root, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}
