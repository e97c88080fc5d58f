package mask

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"

	_ "time/tzdata" // Europe/Berlin for the timestamptz cases, whatever the host has

	"github.com/lethe-operator/lethe/internal/testdb"
)

// sessionZone is PostgreSQL's session time zone in these tests: not UTC, and with
// summer time, so timestamptz truncation is tested where it can go wrong.
const sessionZone = "Europe/Berlin"

// engine is one real database server the agreement tests run against.
type engine struct {
	name    string
	dialect Dialect
	db      *sql.DB
}

var (
	engines []engine
	servers = map[string]*testdb.Server{}
)

// TestMain starts one PostgreSQL and one MariaDB server for the whole package. A server
// that cannot start fails the run: these tests never skip.
func TestMain(m *testing.M) { os.Exit(runWithServers(m)) }

func runWithServers(m *testing.M) int {
	names := []string{testdb.Postgres, testdb.MariaDB}
	started, err := testdb.StartServers(names...)
	defer testdb.StopServers(started)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mask tests:", err)
		return 1
	}
	for _, name := range names {
		s := started[name]
		servers[s.Engine] = s
		e, err := openEngine(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mask tests:", err)
			return 1
		}
		defer e.db.Close()
		engines = append(engines, e)
	}
	return m.Run()
}

func openEngine(s *testdb.Server) (engine, error) {
	dsn, driver, dialect := s.DSN(s.Database), "mysql", MySQL
	if s.Engine == testdb.Postgres {
		dsn, driver, dialect = dsn+"&timezone="+url.QueryEscape(sessionZone), "pgx", Postgres
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return engine{}, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return engine{}, fmt.Errorf("%s: %w", s.Engine, err)
	}
	if dialect == Postgres {
		// citext is a trusted extension: the database owner may create it.
		if _, err := db.Exec("CREATE EXTENSION IF NOT EXISTS citext"); err != nil {
			db.Close()
			return engine{}, fmt.Errorf("citext (from the postgresql-contrib files): %w", err)
		}
	}
	return engine{name: s.Engine, dialect: dialect, db: db}, nil
}

func (e engine) quote(id string) string {
	if e.dialect == MySQL {
		return "`" + id + "`"
	}
	return `"` + id + `"`
}

// binder collects parameters the way the worker will: one placeholder per bind call.
type binder struct {
	dialect Dialect
	args    []any
}

func (b *binder) bind(v any) string {
	b.args = append(b.args, v)
	if b.dialect == Postgres {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

func engineFor(t *testing.T, d Dialect) engine {
	t.Helper()
	for _, e := range engines {
		if e.dialect == d {
			return e
		}
	}
	t.Fatalf("no %s engine started", d)
	return engine{}
}
