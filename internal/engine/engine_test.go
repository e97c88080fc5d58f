package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// servers are shared by the package's tests: one per engine, a database per test.
var servers = map[string]*testdb.Server{}

func TestMain(m *testing.M) {
	started, err := testdb.StartServers(testdb.Postgres, testdb.MariaDB)
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine tests:", err)
		testdb.StopServers(started)
		os.Exit(1)
	}
	servers = started
	code := m.Run()
	testdb.StopServers(started)
	os.Exit(code)
}

var dbCounter atomic.Int64

// newDatabase creates an empty database on the engine's server, returns a superuser-free
// handle to it (the test login) and the plan.Database that reaches it.
func newDatabase(t *testing.T, engineName string) (*sql.DB, plan.Database) {
	t.Helper()
	s := servers[engineName]
	name := fmt.Sprintf("engine_%d_%d", os.Getpid(), dbCounter.Add(1))
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, name); err != nil {
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
	t.Cleanup(func() { db.Close() })
	dir := t.TempDir()
	write := func(file, content string) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return db, plan.Database{
		Engine: engineName, Host: s.Host, Port: s.Port, Name: name,
		UsernameFile: write("username", s.User+"\n"), PasswordFile: write("password", s.Password+"\n"),
		TLS: plan.TLS{Mode: plan.TLSVerifyFull, CAFile: write("ca.crt", string(s.CACert)), ServerName: "localhost"},
	}
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func open(t *testing.T, d plan.Database, timeouts engine.Timeouts) engine.Engine {
	t.Helper()
	e, err := engine.Open(context.Background(), d, timeouts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

var engines = []string{testdb.Postgres, testdb.MariaDB}

// bookingSchema is a small schema with a unique column, a composite unique key, a
// composite foreign key and a table whose name needs quoting.
func bookingSchema(engineName string) []string {
	ts, weird := "TIMESTAMP", `"we""ird`+"`"+`name"`
	if engineName == testdb.MariaDB {
		ts, weird = "DATETIME(6)", "`we\"ird``name`"
	}
	return []string{
		`CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, full_name TEXT,
		  birth_date DATE, last_login_at ` + ts + ` NULL, balance DECIMAL(10,2))`,
		`CREATE TABLE bookings (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, hotel VARCHAR(20) NOT NULL,
		  created_at ` + ts + ` NOT NULL, UNIQUE (id, customer_id),
		  FOREIGN KEY (customer_id) REFERENCES customers (id))`,
		`CREATE TABLE guests (booking_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, seq INT NOT NULL, name TEXT,
		  PRIMARY KEY (booking_id, seq),
		  CONSTRAINT guests_booking FOREIGN KEY (booking_id, customer_id) REFERENCES bookings (id, customer_id))`,
		"CREATE TABLE " + weird + " (id INT PRIMARY KEY)",
	}
}

func setupBooking(t *testing.T, db *sql.DB, engineName string) {
	t.Helper()
	exec(t, db, bookingSchema(engineName)...)
}

func TestCatalogIntrospectsKeysTypesAndForeignKeys(t *testing.T) {
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			db, d := newDatabase(t, name)
			setupBooking(t, db, name)
			e := open(t, d, engine.Timeouts{})
			cat, err := e.Catalog(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			customers := mustTable(t, cat, "customers")
			if got := names(customers.PrimaryKey); !slices.Equal(got, []string{"id"}) {
				t.Errorf("customers primary key = %v", got)
			}
			email := mustColumn(t, customers, "email")
			if email.Kind != mask.KindText || email.Nullable || email.MaxLength != 200 || !customers.IsUnique(email) {
				t.Errorf("email = %+v, unique %v", email, customers.IsUnique(email))
			}
			fullName := mustColumn(t, customers, "full_name")
			if !fullName.Nullable || customers.IsUnique(fullName) || fullName.Kind != mask.KindText {
				t.Errorf("full_name = %+v", fullName)
			}
			kinds := map[string]mask.ValueKind{"birth_date": mask.KindDate, "last_login_at": mask.KindTimestamp,
				"balance": mask.KindDecimal, "id": mask.KindInteger}
			for col, kind := range kinds {
				if c := mustColumn(t, customers, col); c.Kind != kind {
					t.Errorf("%s kind = %v, want %v", col, c.Kind, kind)
				}
			}
			if id := mustColumn(t, customers, "id"); !customers.Referenced(id) || customers.References(id) {
				t.Error("customers.id is referenced by bookings and references nothing")
			}
			if cust := mustColumn(t, mustTable(t, cat, "bookings"), "customer_id"); !cust.Table().References(cust) {
				t.Error("bookings.customer_id references customers")
			}
			guests := mustTable(t, cat, "guests")
			if got := names(guests.PrimaryKey); !slices.Equal(got, []string{"booking_id", "seq"}) {
				t.Errorf("guests primary key = %v", got)
			}
			if len(guests.ForeignKeys) != 1 {
				t.Fatalf("guests foreign keys = %d, want 1", len(guests.ForeignKeys))
			}
			fk := guests.ForeignKeys[0]
			if fk.RefTable.Name != "bookings" || !slices.Equal(names(fk.Columns), []string{"booking_id", "customer_id"}) ||
				!slices.Equal(names(fk.RefColumns), []string{"id", "customer_id"}) {
				t.Errorf("composite foreign key = %s%v -> %s%v", fk.Table.Name, names(fk.Columns), fk.RefTable.Name, names(fk.RefColumns))
			}
			bookings := mustTable(t, cat, "bookings")
			if !bookings.IsKey([]*engine.Column{mustColumn(t, bookings, "customer_id"), mustColumn(t, bookings, "id")}) {
				t.Error("bookings (customer_id, id) is a unique NOT NULL key")
			}
			if bookings.IsKey([]*engine.Column{mustColumn(t, bookings, "customer_id")}) {
				t.Error("bookings (customer_id) alone is not a key")
			}
		})
	}
}

func TestCatalogQuotesNamesThatNeedIt(t *testing.T) {
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			db, d := newDatabase(t, name)
			setupBooking(t, db, name)
			e := open(t, d, engine.Timeouts{})
			cat, err := e.Catalog(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			weird := mustTable(t, cat, "we\"ird`name")
			err = e.Tx(context.Background(), func(tx *sql.Tx) error {
				var n int
				return tx.QueryRow("SELECT COUNT(*) FROM " + weird.Quoted).Scan(&n)
			})
			if err != nil {
				t.Fatalf("querying %s: %v", weird.Quoted, err)
			}
			for _, missing := range []string{"Customers", "customers ", "сustomers", "customers\x00", "customers; DROP TABLE bookings"} {
				if _, ok := cat.Table(missing); ok {
					t.Errorf("catalog has a table %q", missing)
				}
			}
		})
	}
}

func TestConnectionIsEncryptedInEveryTLSModeButDisable(t *testing.T) {
	queries := map[string]string{
		testdb.Postgres: "SELECT CASE WHEN ssl THEN 'on' ELSE '' END FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
		testdb.MariaDB:  "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'",
	}
	for _, name := range engines {
		for _, mode := range []string{plan.TLSVerifyFull, plan.TLSRequire, "", plan.TLSDisable} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				_, d := newDatabase(t, name)
				d.TLS.Mode = mode
				e := open(t, d, engine.Timeouts{})
				var cipher string
				if err := e.Tx(context.Background(), func(tx *sql.Tx) error {
					return tx.QueryRow(queries[name]).Scan(&cipher)
				}); err != nil {
					t.Fatal(err)
				}
				if encrypted := cipher != ""; encrypted != (mode != plan.TLSDisable) {
					t.Fatalf("TLS mode %q: encrypted = %v", mode, encrypted)
				}
			})
		}
	}
}

func TestConnectErrorsHaveDistinctCodes(t *testing.T) {
	closedPort := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}()
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			_, good := newDatabase(t, name)
			cases := []struct {
				what   string
				change func(d *plan.Database)
				code   string
			}{
				{"closed port", func(d *plan.Database) { d.Port = closedPort }, plan.ErrUnreachable},
				{"bad password", func(d *plan.Database) {
					p := filepath.Join(t.TempDir(), "password")
					_ = os.WriteFile(p, []byte("wrong"), 0o600)
					d.PasswordFile = p
				}, plan.ErrAuthentication},
				{"wrong server name", func(d *plan.Database) { d.TLS.ServerName = "db.example.com" }, plan.ErrUnreachable},
				{"verify-full without a CA", func(d *plan.Database) { d.TLS.CAFile = "" }, plan.ErrInvalidPlan},
				{"unknown TLS mode", func(d *plan.Database) { d.TLS.Mode = "prefer" }, plan.ErrInvalidPlan},
				{"unknown engine", func(d *plan.Database) { d.Engine = "oracle" }, plan.ErrInvalidPlan},
				{"missing password file", func(d *plan.Database) { d.PasswordFile = "/nonexistent/password" }, plan.ErrInvalidPlan},
			}
			for _, c := range cases {
				d := good
				c.change(&d)
				_, err := engine.Open(context.Background(), d, engine.Timeouts{})
				var e *engine.Error
				if !errors.As(err, &e) || e.Code != c.code {
					t.Errorf("%s: err = %v, want code %s", c.what, err, c.code)
					continue
				}
				if strings.Contains(e.Message, "wrong") && c.what == "bad password" && strings.Contains(e.Message, "password:") {
					t.Errorf("%s: message leaks the password: %s", c.what, e.Message)
				}
				t.Logf("%s: %s: %s", c.what, e.Code, e.Message)
			}
		})
	}
}

func TestLockTimeoutIsReportedAsTimeout(t *testing.T) {
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			db, d := newDatabase(t, name)
			setupBooking(t, db, name)
			exec(t, db, "INSERT INTO customers (id, email) VALUES (1, 'a@example.com')")
			holder, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Rollback()
			if _, err := holder.Exec("UPDATE customers SET full_name = 'x' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			e := open(t, d, engine.Timeouts{Lock: time.Second, Statement: 30 * time.Second})
			err = e.Tx(context.Background(), func(tx *sql.Tx) error {
				_, err := tx.Exec("UPDATE customers SET full_name = 'y' WHERE id = 1")
				return err
			})
			var ee *engine.Error
			if !errors.As(err, &ee) || ee.Code != plan.ErrTimeout {
				t.Fatalf("err = %v, want code Timeout", err)
			}
		})
	}
}

func TestStatementTimeoutIsReportedAsTimeout(t *testing.T) {
	sleeps := map[string]string{
		testdb.Postgres: "SELECT 1 FROM pg_sleep(5)",
		testdb.MariaDB:  "SELECT COUNT(*) FROM information_schema.COLUMNS a, information_schema.COLUMNS b, information_schema.COLUMNS c",
	}
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			_, d := newDatabase(t, name)
			e := open(t, d, engine.Timeouts{Lock: time.Second, Statement: 200 * time.Millisecond})
			err := e.Tx(context.Background(), func(tx *sql.Tx) error {
				var n int64
				return tx.QueryRow(sleeps[name]).Scan(&n)
			})
			var ee *engine.Error
			if !errors.As(err, &ee) || ee.Code != plan.ErrTimeout {
				t.Fatalf("err = %v, want code Timeout", err)
			}
		})
	}
}

func TestServerErrorMessagesDoNotQuoteValues(t *testing.T) {
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			db, d := newDatabase(t, name)
			setupBooking(t, db, name)
			exec(t, db, "INSERT INTO customers (id, email) VALUES (1, 'secret@example.com')")
			e := open(t, d, engine.Timeouts{})
			err := e.Tx(context.Background(), func(tx *sql.Tx) error {
				_, err := tx.Exec("INSERT INTO customers (id, email) VALUES (2, 'secret@example.com')")
				return err
			})
			var ee *engine.Error
			if !errors.As(err, &ee) || ee.Code != plan.ErrIncompatible {
				t.Fatalf("err = %v, want code %s", err, plan.ErrIncompatible)
			}
			if strings.Contains(ee.Message, "secret") {
				t.Fatalf("message quotes the value: %s", ee.Message)
			}
		})
	}
}

func mustTable(t *testing.T, cat *engine.Catalog, name string) *engine.Table {
	t.Helper()
	tbl, ok := cat.Table(name)
	if !ok {
		t.Fatalf("catalog has no table %q (has %v)", name, cat.TableNames())
	}
	return tbl
}

func mustColumn(t *testing.T, tbl *engine.Table, name string) *engine.Column {
	t.Helper()
	c, ok := tbl.Column(name)
	if !ok {
		t.Fatalf("table %s has no column %q", tbl.Name, name)
	}
	return c
}

func names(cols []*engine.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}
