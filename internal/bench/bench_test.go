package bench_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// Environment knobs, so the benchmark can be tried quickly:
//
//	LETHE_BENCH_ROWS   rows of the main table (default 1,000,000; the RSS check uses 3x)
//	LETHE_BENCH_BATCH  the worker's batch size (default: the plan default the controllers use)
//	LETHE_BINARY       the lethe binary (default: built by the benchmark)
const (
	rowsEnv  = "LETHE_BENCH_ROWS"
	batchEnv = "LETHE_BENCH_BATCH"
)

// repeats is how many times (a) and (b) run; the best run of each counts.
const repeats = 2

func best(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// sampleRows is the size of the row-at-a-time sample (c), scaled to rows per second.
const sampleRows = 20_000

var now = time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)

// masks are the six personal columns of the benchmark table and their strategies.
var masks = []plan.Column{
	{Name: "email", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyFakeEmail}},
	{Name: "full_name", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyRedact}},
	{Name: "phone", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyHash}},
	{Name: "birth_date", Category: "demographic", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}},
	{Name: "ip_address", Category: "online-identifier", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}},
	{Name: "postcode", Category: "address", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 2}},
}

const hashKey = "benchmark-hmac-key"

func BenchmarkMaskingPostgres(b *testing.B) { benchmarkEngine(b, testdb.Postgres, true) }

func BenchmarkMaskingMariaDB(b *testing.B) { benchmarkEngine(b, testdb.MariaDB, false) }

// figures are one engine's measurements.
type figures struct {
	rows                  int
	raw, worker, perRow   time.Duration
	rss, rssBig           int64 // KiB
	bigRows               int
	bigWorker             time.Duration
	rawMasked, workMasked int64
}

func benchmarkEngine(b *testing.B, engineName string, full bool) {
	n := envInt(b, rowsEnv, 1_000_000)
	if n < sampleRows {
		b.Fatalf("%s=%d: use at least %d rows, the row-at-a-time sample", rowsEnv, n, sampleRows)
	}
	dir := b.TempDir()
	bin := letheBinary(b, dir)
	srv, err := testdb.StartServer(engineName)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	h := &harness{b: b, srv: srv, dir: dir, bin: bin}
	var f figures
	f.rows = n
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// (a) and (b) alternate, each on a fresh copy of the table, and each keeps its best
		// run: the machine may be shared, and a slow moment should not decide the ratio.
		for rep := 0; rep < repeats; rep++ {
			a := h.database("bench_a", n)
			// (c) one UPDATE ... WHERE id = $1 per row, on a sample spread over the table.
			f.perRow = best(f.perRow, h.rowAtATime(a, n))
			// (a) one raw UPDATE with the same masking expressions over the same rows.
			f.raw = best(f.raw, h.rawUpdate(a))
			f.rawMasked = h.count(a, "full_name = 'REDACTED'")
			h.drop(a)
			// (b) the worker's retention plan, as a process, with its peak RSS.
			w := h.database("bench_b", n)
			d, rss := h.runWorker(w)
			f.worker, f.rss = best(f.worker, d), max(f.rss, rss)
			f.workMasked = h.count(w, "full_name = 'REDACTED'")
			h.drop(w)
		}
		if full {
			// The worker's memory on a table three times bigger.
			f.bigRows = 3 * n
			big := h.database("bench_d", f.bigRows)
			f.bigWorker, f.rssBig = h.runWorker(big)
			h.drop(big)
		}
	}
	report(b, engineName, f)
}

// report prints the figures as a table and as benchmark metrics; it asserts nothing.
func report(b *testing.B, engineName string, f figures) {
	rate := func(rows int, d time.Duration) float64 { return float64(rows) / d.Seconds() }
	a, w := rate(f.rows, f.raw), rate(f.rows, f.worker)
	b.ReportMetric(a, "raw-rows/s")
	b.ReportMetric(w, "worker-rows/s")
	b.ReportMetric(w/a, "b/a")
	b.ReportMetric(float64(f.rss)/1024, "worker-MiB")
	var out strings.Builder
	fmt.Fprintf(&out, "\n%s, %d rows, 6 personal columns\n", engineName, f.rows)
	fmt.Fprintf(&out, "  (a) one raw UPDATE           %12.0f rows/s  (%v, %d rows masked)\n", a, f.raw.Round(time.Millisecond), f.rawMasked)
	fmt.Fprintf(&out, "  (b) lethe worker retention   %12.0f rows/s  (%v, %d rows masked, peak RSS %.1f MiB)\n",
		w, f.worker.Round(time.Millisecond), f.workMasked, float64(f.rss)/1024)
	c := rate(sampleRows, f.perRow)
	b.ReportMetric(c, "row-at-a-time-rows/s")
	b.ReportMetric(w/c, "b/c")
	fmt.Fprintf(&out, "  (c) row at a time            %12.0f rows/s  (%v for %d rows, scaled)\n", c, f.perRow.Round(time.Millisecond), sampleRows)
	fmt.Fprintf(&out, "  b/a = %.2f   b/c = %.1f   (best of %d runs each)\n", w/a, w/c, repeats)
	if f.bigRows > 0 {
		b.ReportMetric(float64(f.rssBig)/1024, "worker-MiB-3x")
		fmt.Fprintf(&out, "  worker peak RSS: %.1f MiB at %d rows, %.1f MiB at %d rows (%.0f rows/s)\n",
			float64(f.rss)/1024, f.rows, float64(f.rssBig)/1024, f.bigRows, rate(f.bigRows, f.bigWorker))
	}
	fmt.Print(out.String())
}

// harness runs the measurements against one server.
type harness struct {
	b   *testing.B
	srv *testdb.Server
	dir string
	bin string
}

// tenantDB is a benchmark database with its plan settings.
type tenantDB struct {
	name string
	db   *sql.DB
	plan.Database
}

// database creates a database with a customers table of n rows, loaded in one statement.
func (h *harness) database(name string, n int) *tenantDB {
	ctx := context.Background()
	_ = h.srv.DropDatabase(ctx, name)
	if err := h.srv.CreateDatabase(ctx, name); err != nil {
		h.b.Fatal(err)
	}
	driver := "pgx"
	if h.srv.Engine == testdb.MariaDB {
		driver = "mysql"
	}
	db, err := sql.Open(driver, h.srv.DSN(name))
	if err != nil {
		h.b.Fatal(err)
	}
	t := &tenantDB{name: name, db: db, Database: plan.Database{
		Engine: h.srv.Engine, Host: h.srv.Host, Port: h.srv.Port, Name: name,
		UsernameFile: h.file("username", h.srv.User), PasswordFile: h.file("password", h.srv.Password),
		TLS: plan.TLS{Mode: plan.TLSRequire},
	}}
	for _, stmt := range loadStatements(h.srv.Engine, n) {
		if _, err := db.Exec(stmt); err != nil {
			h.b.Fatalf("%s: %v", stmt, err)
		}
	}
	return t
}

func (h *harness) drop(t *tenantDB) {
	t.db.Close()
	_ = h.srv.DropDatabase(context.Background(), t.name)
}

func (h *harness) file(name, content string) string {
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		h.b.Fatal(err)
	}
	return p
}

func (h *harness) count(t *tenantDB, where string) int64 {
	var s string
	if err := t.db.QueryRow("SELECT COUNT(*) FROM customers WHERE " + where).Scan(&s); err != nil {
		h.b.Fatal(err)
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func loadStatements(engineName string, n int) []string {
	if engineName == testdb.MariaDB {
		return []string{
			`CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, full_name VARCHAR(200) NULL,
			  phone VARCHAR(40) NULL, birth_date DATE NULL, ip_address VARCHAR(45) NULL, postcode VARCHAR(10) NULL,
			  created_at DATETIME(6) NOT NULL)`,
			fmt.Sprintf(`INSERT INTO customers SELECT seq, CONCAT('customer', seq, '@example.com'), CONCAT('Customer Name ', seq),
			  CONCAT('+45 ', 10000000 + seq), DATE_ADD('1940-01-01', INTERVAL seq %% 25000 DAY),
			  CONCAT(seq %% 223 + 1, '.', seq DIV 65536 %% 256, '.', seq DIV 256 %% 256, '.', seq %% 256),
			  CONCAT('DK-', 1000 + seq %% 9000), DATE_ADD('2015-01-01', INTERVAL seq %% 3000 DAY) FROM seq_1_to_%d`, n),
			"ANALYZE TABLE customers",
		}
	}
	return []string{
		`CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, full_name VARCHAR(200) NULL,
		  phone VARCHAR(40) NULL, birth_date DATE NULL, ip_address VARCHAR(45) NULL, postcode VARCHAR(10) NULL,
		  created_at TIMESTAMP NOT NULL)`,
		fmt.Sprintf(`INSERT INTO customers SELECT g, 'customer' || g || '@example.com', 'Customer Name ' || g,
		  '+45 ' || (10000000 + g), DATE '1940-01-01' + (g %% 25000),
		  (g %% 223 + 1) || '.' || (g / 65536 %% 256) || '.' || (g / 256 %% 256) || '.' || (g %% 256),
		  'DK-' || (1000 + g %% 9000), TIMESTAMP '2015-01-01' + (g %% 3000) * INTERVAL '1 day'
		  FROM generate_series(1, %d) AS g`, n),
		"VACUUM ANALYZE customers",
	}
}

// maskers compiles the benchmark's masks against the introspected table, as the worker
// does, and returns them with the engine connection.
func (h *harness) maskers(t *tenantDB) (engine.Engine, *engine.Table, []mask.Masker) {
	ctx := context.Background()
	eng, err := engine.Open(ctx, t.Database, engine.Timeouts{Statement: time.Hour})
	if err != nil {
		h.b.Fatal(err)
	}
	cat, err := eng.Catalog(ctx)
	if err != nil {
		h.b.Fatal(err)
	}
	tbl, _ := cat.Table("customers")
	var out []mask.Masker
	for _, c := range masks {
		col, _ := tbl.Column(c.Name)
		m, err := mask.Compile(c.Mask, tbl.MaskColumn(col), []byte(hashKey))
		if err != nil {
			h.b.Fatalf("%s: %v", c.Name, err)
		}
		out = append(out, m)
	}
	return eng, tbl, out
}

// rawUpdate is (a): one UPDATE statement with the masks' SQL over the rows the retention
// rule selects.
func (h *harness) rawUpdate(t *tenantDB) time.Duration {
	eng, tbl, maskers := h.maskers(t)
	defer eng.Close()
	var args []any
	bind := func(v any) string { args = append(args, v); return eng.Placeholder(len(args)) }
	id, _ := tbl.Column("id")
	rowKey := eng.TextExpr("t." + id.Quoted)
	var sets []string
	for i, c := range masks {
		col, _ := tbl.Column(c.Name)
		expr, err := maskers[i].SQL(eng.Dialect(), "t."+col.Quoted, rowKey, bind)
		if err != nil {
			h.b.Fatal(err)
		}
		sets = append(sets, col.Quoted+" = "+expr)
	}
	created, _ := tbl.Column("created_at")
	stmt := "UPDATE customers t SET " + strings.Join(sets, ", ") + " WHERE t." + created.Quoted + " < " + bind(now.AddDate(-1, 0, 0))
	start := time.Now()
	err := eng.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(stmt, args...)
		return err
	})
	elapsed := time.Since(start)
	if err != nil {
		h.b.Fatalf("raw update: %v", err)
	}
	return elapsed
}

// runWorker is (b): the lethe binary running the retention plan; it returns the wall time
// and the process's peak RSS in KiB.
func (h *harness) runWorker(t *tenantDB) (time.Duration, int64) {
	p := plan.Plan{Kind: plan.KindRetention, Database: t.Database, Now: now,
		DataMap: plan.DataMap{Tables: []plan.Table{{Name: "customers", PrimaryKey: []string{"id"},
			Identifiers: map[string]string{"email": "email"}, Columns: masks}}},
		// Every customer was created over a year ago: the rule says it may match them all.
		Rules: []plan.Rule{{Name: "old-customers", Table: "customers", Action: plan.ActionAnonymize,
			OlderThan: "P1Y", Column: "created_at", AllRows: true}},
		Options: plan.Options{HashKeyFile: h.file("hash.key", hashKey), BatchSize: envInt(h.b, batchEnv, 0),
			StatementTimeout: "10m"},
	}
	planFile := filepath.Join(h.dir, "plan.json")
	js, _ := json.Marshal(p)
	if err := os.WriteFile(planFile, js, 0o600); err != nil {
		h.b.Fatal(err)
	}
	var stdout strings.Builder
	cmd := exec.Command(h.bin, "worker", "--plan", planFile, "--termination-log", filepath.Join(h.dir, "termination-log"))
	cmd.Stdout = &stdout
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		h.b.Fatalf("worker: %v\n%s", err, stdout.String())
	}
	return elapsed, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

// rowAtATime is (c): the same masking expressions, one UPDATE ... WHERE id = $1 per row,
// each its own transaction, as tools that handle one request at a time do, on sampleRows
// rows spread evenly over the table's n rows.
func (h *harness) rowAtATime(t *tenantDB, n int) time.Duration {
	eng, tbl, maskers := h.maskers(t)
	defer eng.Close()
	var args []any
	bind := func(v any) string { args = append(args, v); return eng.Placeholder(len(args)) }
	id, _ := tbl.Column("id")
	rowKey := eng.TextExpr("t." + id.Quoted)
	var sets []string
	for i, c := range masks {
		col, _ := tbl.Column(c.Name)
		expr, err := maskers[i].SQL(eng.Dialect(), "t."+col.Quoted, rowKey, bind)
		if err != nil {
			h.b.Fatal(err)
		}
		sets = append(sets, col.Quoted+" = "+expr)
	}
	update := "UPDATE customers t SET " + strings.Join(sets, ", ") + " WHERE t." + id.Quoted + " = " + bind(int64(0))
	start := time.Now()
	step := int64(n / sampleRows)
	for i := int64(1); i <= sampleRows; i++ {
		row := i * step
		args[len(args)-1] = row
		if _, err := t.db.Exec(update, args...); err != nil {
			h.b.Fatalf("row %d: %v", row, err)
		}
	}
	return time.Since(start)
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// letheBinary returns LETHE_BINARY (set by `make bench`) or builds the binary.
func letheBinary(b *testing.B, dir string) string {
	if p := os.Getenv("LETHE_BINARY"); p != "" {
		return p
	}
	out := filepath.Join(dir, "lethe")
	if msg, err := exec.Command("go", "build", "-o", out, "github.com/lethe-operator/lethe").CombinedOutput(); err != nil {
		b.Fatalf("go build lethe (or set LETHE_BINARY): %v\n%s", err, msg)
	}
	return out
}
