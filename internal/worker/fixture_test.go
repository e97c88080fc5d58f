package worker_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
	"github.com/lethe-operator/lethe/internal/worker"
)

// now is the plans' reference time.
var now = time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)

var dbCounter atomic.Int64

// tenant is one test database with the plan settings that reach it.
type tenant struct {
	t      testing.TB
	engine string
	db     *sql.DB
	dir    string
	plan.Database
}

// newTenant creates an empty database on the engine's shared server.
func newTenant(t testing.TB, engineName string) *tenant {
	t.Helper()
	s := servers[engineName]
	name := fmt.Sprintf("w%d_%d", os.Getpid(), dbCounter.Add(1))
	if err := s.CreateDatabase(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DropDatabase(context.Background(), name) })
	driver := "pgx"
	if engineName == testdb.MariaDB {
		driver = "mysql"
	}
	db, err := sql.Open(driver, s.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	tn := &tenant{t: t, engine: engineName, db: db, dir: t.TempDir()}
	tn.Database = plan.Database{
		Engine: engineName, Host: s.Host, Port: s.Port, Name: name,
		UsernameFile: tn.file("username", s.User+"\n"), PasswordFile: tn.file("password", s.Password+"\n"),
		TLS: plan.TLS{Mode: plan.TLSVerifyFull, CAFile: tn.file("ca.crt", string(s.CACert)), ServerName: "localhost"},
	}
	return tn
}

// file writes a file into the tenant's temp dir (a stand-in for a mounted Secret).
func (tn *tenant) file(name, content string) string {
	tn.t.Helper()
	p := filepath.Join(tn.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tn.t.Fatal(err)
	}
	return p
}

func (tn *tenant) exec(stmts ...string) {
	tn.t.Helper()
	for _, s := range stmts {
		if _, err := tn.db.Exec(s); err != nil {
			tn.t.Fatalf("%s: %v", s, err)
		}
	}
}

// ts is the engine's timestamp type.
func (tn *tenant) ts() string {
	if tn.engine == testdb.MariaDB {
		return "DATETIME(6)"
	}
	return "TIMESTAMP"
}

// plan returns a plan of kind against the tenant with the booking DataMap.
func (tn *tenant) plan(kind plan.Kind) plan.Plan {
	return plan.Plan{Kind: kind, Database: tn.Database, DataMap: bookingMap(), Now: now,
		Options: plan.Options{HashKeyFile: tn.file("hash.key", "test-hmac-key"), BatchSize: 2}}
}

// subject writes the identifier into a Secret-like file and returns the plan subject.
func (tn *tenant) subject(id, typ, value, action string) plan.Subject {
	return plan.Subject{ID: id, Type: typ, ValueFile: tn.file("subject-"+id, value+"\n"), Action: action}
}

// run runs a plan in-process and checks that its report carries no subject value.
func (tn *tenant) run(p plan.Plan) plan.Report {
	tn.t.Helper()
	var log strings.Builder
	report := worker.Run(context.Background(), p, &log)
	b, _ := json.Marshal(report)
	for _, s := range p.Subjects {
		v, _ := os.ReadFile(s.ValueFile)
		// Short values (a customer id such as 2) occur in any number; long ones must not.
		if value := strings.TrimSpace(string(v)); len(value) >= 5 && (strings.Contains(string(b), value) || strings.Contains(log.String(), value)) {
			tn.t.Fatalf("the report or log contains subject %s's identifier:\n%s\n%s", s.ID, b, log.String())
		}
	}
	return report
}

// mustSucceed runs a plan and fails the test unless it succeeded.
func (tn *tenant) mustSucceed(p plan.Plan) plan.Report {
	tn.t.Helper()
	r := tn.run(p)
	if !r.Succeeded {
		b, _ := json.MarshalIndent(r, "", "  ")
		tn.t.Fatalf("%s plan failed:\n%s", p.Kind, b)
	}
	return r
}

// checksum returns a digest of every row of the tables, in primary-key order.
func (tn *tenant) checksum(tables ...string) string {
	tn.t.Helper()
	h := sha256.New()
	for _, t := range tables {
		fmt.Fprintf(h, "table %s\n", t)
		for _, row := range tn.rows("SELECT * FROM " + t + " ORDER BY 1, 2") {
			fmt.Fprintf(h, "%q\n", row)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// rows returns the rows of a query, each value as text ("NULL" for NULL).
func (tn *tenant) rows(query string, args ...any) [][]string {
	tn.t.Helper()
	rows, err := tn.db.Query(query, args...)
	if err != nil {
		tn.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tn.t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = text(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		tn.t.Fatal(err)
	}
	return out
}

// value returns the single value of a query as text.
func (tn *tenant) value(query string, args ...any) string {
	tn.t.Helper()
	rows := tn.rows(query, args...)
	if len(rows) != 1 || len(rows[0]) != 1 {
		tn.t.Fatalf("%s: got %v, want one value", query, rows)
	}
	return rows[0][0]
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05")
	}
	return fmt.Sprint(v)
}

var bookingTables = []string{"customers", "bookings", "booking_guests", "invoices", "support_tickets"}

// setupBooking creates the booking schema and its rows:
//
//	customers 1 alice (active), 2 bob (inactive, bookings long ago), 3 carol (never logged
//	in, no bookings), 4 dave (old login, recent booking), 5 erin and 6 frank (share a
//	phone number; frank has NULLs everywhere).
//	bookings -> customers; booking_guests -> bookings by a composite key (id, customer_id);
//	invoices -> customers under a 7-year legal hold from issued_at; support_tickets.
func setupBooking(tn *tenant) {
	tn.t.Helper()
	ts := tn.ts()
	boolean := "BOOLEAN"
	tn.exec(
		`CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE,
		  full_name VARCHAR(200) NULL, phone VARCHAR(40) NULL, birth_date DATE NULL, country VARCHAR(2) NULL,
		  postcode VARCHAR(10) NULL, alias VARCHAR(100) NULL, alias_consent `+boolean+` NOT NULL,
		  last_login_at `+ts+` NULL, created_at `+ts+` NOT NULL)`,
		`CREATE TABLE bookings (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, hotel VARCHAR(50) NOT NULL,
		  ip_address VARCHAR(45) NULL, created_at `+ts+` NOT NULL, UNIQUE (id, customer_id),
		  CONSTRAINT bookings_customer FOREIGN KEY (customer_id) REFERENCES customers (id))`,
		`CREATE TABLE booking_guests (booking_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, seq INT NOT NULL,
		  guest_name VARCHAR(200) NULL, guest_email VARCHAR(200) NULL, PRIMARY KEY (booking_id, seq),
		  CONSTRAINT guests_booking FOREIGN KEY (booking_id, customer_id) REFERENCES bookings (id, customer_id))`,
		`CREATE TABLE invoices (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, billing_name VARCHAR(200) NULL,
		  amount DECIMAL(10,2) NOT NULL, issued_at DATE NOT NULL,
		  CONSTRAINT invoices_customer FOREIGN KEY (customer_id) REFERENCES customers (id))`,
		`CREATE TABLE support_tickets (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, body TEXT NULL,
		  created_at `+ts+` NOT NULL,
		  CONSTRAINT tickets_customer FOREIGN KEY (customer_id) REFERENCES customers (id))`,
		`INSERT INTO customers VALUES
		  (1, 'alice@example.com', 'Alice Liddell', '+44 1111', '1990-04-12', 'GB', 'OX1 3QD', 'ally', false, '2026-05-20 10:00:00', '2019-01-01 00:00:00'),
		  (2, 'bob@example.com', 'Bob Builder', '+44 2222', '1985-09-30', 'GB', 'M1 1AE', 'bobby', true, '2021-02-01 00:00:00', '2018-03-03 00:00:00'),
		  (3, 'carol@example.com', 'Carol Danvers', NULL, '1979-12-24', 'US', '10001', NULL, false, NULL, '2020-01-01 00:00:00'),
		  (4, 'dave@example.com', 'Dave Grohl', '+1 4444', '1969-01-14', 'US', '98101', 'dg', false, '2020-06-01 00:00:00', '2017-06-01 00:00:00'),
		  (5, 'erin@example.com', 'Erin Brockovich', '+1 5555', '1960-06-22', 'US', '92401', NULL, true, '2026-01-01 00:00:00', '2016-01-01 00:00:00'),
		  (6, 'frank@example.com', NULL, '+1 5555', NULL, NULL, NULL, NULL, false, NULL, '2015-01-01 00:00:00')`,
		`INSERT INTO bookings VALUES
		  (10, 1, 'Aurora', '203.0.113.7', '2026-04-01 12:00:00'),
		  (11, 1, 'Aurora', NULL, '2024-04-01 12:00:00'),
		  (20, 2, 'Borealis', '198.51.100.20', '2020-01-10 09:00:00'),
		  (40, 4, 'Aurora', '192.0.2.44', '2026-02-02 08:00:00')`,
		`INSERT INTO booking_guests VALUES
		  (10, 1, 1, 'Alice Liddell', 'alice@example.com'), (10, 1, 2, 'Lorina Liddell', NULL),
		  (11, 1, 1, 'Edith Liddell', 'edith@example.com'),
		  (20, 2, 1, 'Wendy', 'wendy@example.com'), (40, 4, 1, 'Taylor', NULL)`,
		`INSERT INTO invoices VALUES
		  (100, 1, 'Alice Liddell', 120.00, '2024-05-01'),
		  (101, 1, 'A. Liddell', 80.50, '2017-01-15'),
		  (200, 2, 'Bob Builder', 300.00, '2020-01-10'),
		  (201, 2, 'Bob Builder', 15.00, '2018-01-01')`,
		`INSERT INTO support_tickets VALUES
		  (1000, 1, 'my card was charged twice', '2026-05-25 10:00:00'),
		  (1001, 1, 'please call me at +44 1111', '2025-01-01 10:00:00'),
		  (2000, 2, 'wifi broken', '2020-01-11 10:00:00'),
		  (4000, 4, NULL, '2026-01-15 10:00:00')`,
	)
}

// bookingMap is the DataMap of the booking schema.
func bookingMap() plan.DataMap {
	via := func(cols []string, table string, refs []string) *plan.Link {
		return &plan.Link{Columns: cols, Table: table, ReferencedColumns: refs}
	}
	return plan.DataMap{Tables: []plan.Table{
		{
			Name: "customers", PrimaryKey: []string{"id"},
			Identifiers: map[string]string{"email": "email", "customerId": "id", "phone": "phone"},
			Columns: []plan.Column{
				{Name: "email", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyFakeEmail}},
				{Name: "full_name", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyRedact}},
				{Name: "phone", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyHash}},
				{Name: "birth_date", Category: "demographic", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}},
				{Name: "country", Category: "demographic", Mask: plan.Mask{Strategy: plan.StrategyKeep}},
				{Name: "postcode", Category: "address", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 2}},
				{Name: "alias", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyNullify}},
			},
		},
		{
			Name: "bookings", PrimaryKey: []string{"id"},
			SubjectVia: via([]string{"customer_id"}, "customers", []string{"id"}),
			Columns: []plan.Column{
				{Name: "ip_address", Category: "online-identifier", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}},
			},
		},
		{
			Name: "booking_guests", PrimaryKey: []string{"booking_id", "seq"},
			SubjectVia: via([]string{"booking_id", "customer_id"}, "bookings", []string{"id", "customer_id"}),
			Columns: []plan.Column{
				{Name: "guest_name", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyRedact, Value: "guest"}},
				{Name: "guest_email", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyNullify}},
			},
		},
		{
			Name: "invoices", PrimaryKey: []string{"id"},
			SubjectVia: via([]string{"customer_id"}, "customers", []string{"id"}),
			LegalHold:  &plan.LegalHold{Basis: "bookkeeping-law", RetainFor: "P7Y", From: "issued_at"},
			Columns: []plan.Column{
				{Name: "billing_name", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyRedact}},
			},
		},
		{
			Name: "support_tickets", PrimaryKey: []string{"id"},
			SubjectVia: via([]string{"customer_id"}, "customers", []string{"id"}),
			OnErasure:  plan.ActionDelete,
			Columns: []plan.Column{
				{Name: "body", Category: "free-text", Mask: plan.Mask{Strategy: plan.StrategyRedact}},
			},
		},
	}}
}

// result finds the result for a table and outcome (and rule or subject, when given).
func result(t *testing.T, r plan.Report, table, outcome, ruleOrSubject string) plan.Result {
	t.Helper()
	for _, res := range r.Results {
		if res.Table == table && res.Outcome == outcome && (ruleOrSubject == "" || res.Rule == ruleOrSubject || res.Subject == ruleOrSubject) {
			return res
		}
	}
	b, _ := json.MarshalIndent(r.Results, "", "  ")
	t.Fatalf("no result %s/%s/%s in\n%s", table, outcome, ruleOrSubject, b)
	return plan.Result{}
}

// changedRows sums the rows a report says were anonymized or deleted.
func changedRows(r plan.Report) int64 {
	var n int64
	for _, res := range r.Results {
		if res.Outcome == plan.OutcomeAnonymized || res.Outcome == plan.OutcomeDeleted {
			n += res.Rows
		}
	}
	return n
}

// noEmptyResults fails the test for a result with no rows: a table where nothing
// happened is not listed (notFound is the exception, a subject's answer).
func noEmptyResults(t *testing.T, r plan.Report) {
	t.Helper()
	for _, res := range r.Results {
		if res.Rows == 0 && res.Outcome != plan.OutcomeNotFound {
			t.Errorf("result without rows: %+v", res)
		}
	}
}
