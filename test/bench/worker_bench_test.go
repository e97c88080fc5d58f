package bench_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
	"github.com/lethe-operator/lethe/internal/testenv"
)

// workerSubjectsEnv sets the subjects of BenchmarkErasureWorker's plan (default 50, the
// burst's requests per database).
const workerSubjectsEnv = "LETHE_BENCH_WORKER_SUBJECTS"

// BenchmarkErasureWorker times one `lethe worker` process running an erasure plan of
// LETHE_BENCH_WORKER_SUBJECTS subjects on a fresh database loaded with the booking
// sample, the work of one of the burst's Jobs, alone on the machine. Each iteration
// erases other customers of a new database; the database's setup is not timed.
func BenchmarkErasureWorker(b *testing.B) {
	n := envInt(b, workerSubjectsEnv, 50)
	if n > customersPerDatabase {
		b.Fatalf("%s=%d: the booking sample has %d customers", workerSubjectsEnv, n, customersPerDatabase)
	}
	dir := b.TempDir()
	bin := letheBinary(b, dir)
	srv, err := testdb.StartServer(testdb.Postgres)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	root, err := testenv.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join(root, "test", "e2e", "testdata", "booking_postgres.sql"))
	if err != nil {
		b.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		must(b, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	login := plan.Database{Engine: srv.Engine, Host: "localhost", Port: srv.Port,
		UsernameFile: write("username", srv.User), PasswordFile: write("password", srv.Password),
		TLS: plan.TLS{Mode: plan.TLSVerifyFull, CAFile: write("ca.crt", string(srv.CACert))}}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx := context.Background()
		name := fmt.Sprintf("worker_%d", i)
		must(b, srv.CreateDatabase(ctx, name))
		db, err := sql.Open("pgx", srv.DSN(name))
		must(b, err)
		for _, stmt := range strings.Split(string(schema), ";\n") {
			if strings.TrimSpace(stmt) != "" {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					b.Fatalf("loading the booking sample: %v", err)
				}
			}
		}
		db.Close()
		p := plan.Plan{Kind: plan.KindErasure, Database: login, DataMap: bookingDataMap(), Now: time.Now().UTC()}
		p.Database.Name = name
		for s := 1; s <= n; s++ {
			// Every fourth customer, so that the subjects' linked rows are spread out.
			c := 1 + (s*4)%customersPerDatabase
			p.Subjects = append(p.Subjects, plan.Subject{ID: fmt.Sprintf("req-%04d", s), Type: "email",
				ValueFile: write(fmt.Sprintf("subject-%d-%d", i, s), fmt.Sprintf("guest%d@mail.example", c))})
		}
		raw, err := json.Marshal(p)
		must(b, err)
		planPath := write(fmt.Sprintf("plan-%d.json", i), string(raw))
		cmd := exec.Command(bin, "worker", "--plan", planPath, "--termination-log", filepath.Join(dir, "termination-log"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		b.StartTimer()
		start := time.Now()
		out, err := cmd.Output()
		took := time.Since(start)
		b.StopTimer()
		total += took
		var report plan.Report
		if jerr := json.Unmarshal(out, &report); jerr != nil || !report.Succeeded {
			b.Fatalf("the worker failed (%v): %s\n%s", err, out, stderr.String())
		}
		for id, left := range report.Remaining {
			if left != 0 {
				b.Fatalf("subject %s: %d identifying values left", id, left)
			}
		}
		// The controller reads the report from the termination message, summarised to 4 KiB.
		msg, err := os.ReadFile(filepath.Join(dir, "termination-log"))
		must(b, err)
		var summary plan.Report
		must(b, json.Unmarshal(msg, &summary))
		subjects := map[string]bool{}
		for _, r := range summary.Results {
			if r.Subject != "" {
				subjects[r.Subject] = true
			}
		}
		b.Logf("%d subjects: %v (the worker's own report: %d ms); termination message %d bytes, truncated %v, %d subjects in it",
			n, took.Round(time.Millisecond), report.DurationMillis, len(msg), summary.Truncated, len(subjects))
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/run")
}

// bookingDataMap is config/samples/privacy_v1alpha1_datamap.yaml as the controller puts
// it in a plan.
func bookingDataMap() plan.DataMap {
	via := func() *plan.Link {
		return &plan.Link{Columns: []string{"customer_id"}, Table: "customers", ReferencedColumns: []string{"id"}}
	}
	return plan.DataMap{Tables: []plan.Table{
		{Name: "customers", PrimaryKey: []string{"id"}, Identifiers: map[string]string{"email": "email", "customerId": "id"},
			Columns: []plan.Column{
				{Name: "email", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyFakeEmail}},
				{Name: "full_name", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyRedact}},
				{Name: "phone", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyNullify}},
				{Name: "birth_date", Category: "demographic", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}},
				{Name: "country", Category: "demographic", Mask: plan.Mask{Strategy: plan.StrategyKeep}},
			}},
		{Name: "bookings", PrimaryKey: []string{"id"}, SubjectVia: via(),
			Columns: []plan.Column{{Name: "ip_address", Category: "online-identifier", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}}}},
		{Name: "invoices", PrimaryKey: []string{"id"}, SubjectVia: via(),
			LegalHold: &plan.LegalHold{Basis: "bookkeeping-law", RetainFor: "P7Y", From: "issued_at"},
			Columns: []plan.Column{
				{Name: "billing_name", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyRedact}},
				{Name: "billing_address", Category: "location", Mask: plan.Mask{Strategy: plan.StrategyRedact}},
			}},
		{Name: "support_tickets", PrimaryKey: []string{"id"}, SubjectVia: via(), OnErasure: plan.ActionDelete,
			Columns: []plan.Column{{Name: "body", Category: "free-text", Mask: plan.Mask{Strategy: plan.StrategyRedact}}}},
	}}
}
