package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/testdb"
)

// The retention scenario's booking schema, the same on both engines.
var bookingSchema = map[string][]string{
	testdb.Postgres: {
		`CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, full_name text,
		  phone varchar(32), birth_date date, country char(2), last_login_at timestamptz, created_at timestamptz NOT NULL)`,
		`CREATE TABLE accounts (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
		  alias varchar(64), alias_consent boolean NOT NULL)`,
		`CREATE TABLE bookings (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
		  created_at timestamptz NOT NULL, ip_address varchar(45))`,
		`CREATE TABLE invoices (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
		  issued_at date NOT NULL, billing_name text, billing_address text, amount numeric(10,2) NOT NULL)`,
		`CREATE TABLE support_tickets (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
		  created_at timestamptz NOT NULL, body text)`,
		`CREATE TABLE contact_requests (id bigint PRIMARY KEY, email varchar(255) NOT NULL, name text,
		  message text, created_at timestamptz NOT NULL)`,
	},
	testdb.MariaDB: {
		`CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, full_name text,
		  phone varchar(32), birth_date date, country char(2), last_login_at datetime, created_at datetime NOT NULL)`,
		`CREATE TABLE accounts (id bigint PRIMARY KEY, customer_id bigint NOT NULL, alias varchar(64),
		  alias_consent boolean NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers(id))`,
		`CREATE TABLE bookings (id bigint PRIMARY KEY, customer_id bigint NOT NULL, created_at datetime NOT NULL,
		  ip_address varchar(45), FOREIGN KEY (customer_id) REFERENCES customers(id))`,
		`CREATE TABLE invoices (id bigint PRIMARY KEY, customer_id bigint NOT NULL, issued_at date NOT NULL,
		  billing_name text, billing_address text, amount decimal(10,2) NOT NULL,
		  FOREIGN KEY (customer_id) REFERENCES customers(id))`,
		`CREATE TABLE support_tickets (id bigint PRIMARY KEY, customer_id bigint NOT NULL, created_at datetime NOT NULL,
		  body text, FOREIGN KEY (customer_id) REFERENCES customers(id))`,
		`CREATE TABLE contact_requests (id bigint PRIMARY KEY, email varchar(255) NOT NULL, name text,
		  message text, created_at datetime NOT NULL)`,
	},
}

// bookingTables lists each table's columns in a fixed order (the first is the key).
var bookingTables = []struct {
	name    string
	columns []string
}{
	{"customers", []string{"id", "email", "full_name", "phone", "birth_date", "country", "last_login_at", "created_at"}},
	{"accounts", []string{"id", "customer_id", "alias", "alias_consent"}},
	{"bookings", []string{"id", "customer_id", "created_at", "ip_address"}},
	{"invoices", []string{"id", "customer_id", "issued_at", "billing_name", "billing_address", "amount"}},
	{"support_tickets", []string{"id", "customer_id", "created_at", "body"}},
	{"contact_requests", []string{"id", "email", "name", "message", "created_at"}},
}

// loadBookingData creates the schema and fills it with customers whose activity, bookings,
// invoices, tickets and contact requests are spread over ten years before `now`. Times are
// whole seconds, and offsets carry odd hours so no row sits on a rule's exact boundary.
func loadBookingData(t *testing.T, s *testdb.Server, database string, customers int, now time.Time) *sql.DB {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, database); err != nil {
		t.Fatal(err)
	}
	driver := "pgx"
	if s.Engine == testdb.MariaDB {
		driver = "mysql"
	}
	db, err := sql.Open(driver, s.DSN(database)+dsnUTC(s.Engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, stmt := range bookingSchema[s.Engine] {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("schema: %v", err)
		}
	}
	rng := rand.New(rand.NewSource(int64(customers)))
	ago := func(maxDays int) time.Time {
		return now.Add(-time.Duration(rng.Intn(maxDays*24)+1)*time.Hour - 17*time.Minute).Truncate(time.Second).UTC()
	}
	rows := map[string][][]any{}
	add := func(table string, values ...any) { rows[table] = append(rows[table], values) }
	nextID := map[string]int{}
	id := func(table string) int { nextID[table]++; return nextID[table] }
	for c := 1; c <= customers; c++ {
		var lastLogin any
		if rng.Intn(10) > 0 {
			lastLogin = ago(3650)
		}
		birth := time.Date(1940+rng.Intn(65), time.Month(1+rng.Intn(12)), 1+rng.Intn(28), 0, 0, 0, 0, time.UTC)
		add("customers", c, fmt.Sprintf("guest%d@mail.example", c), fmt.Sprintf("Guest Nummer %d", c),
			fmt.Sprintf("+45 %08d", c), birth.Format("2006-01-02"), []string{"DK", "SE", "DE", "NO"}[c%4], lastLogin, ago(3650))
		add("accounts", id("accounts"), c, fmt.Sprintf("alias-%d", c), rng.Intn(3) > 0)
		for b := rng.Intn(4); b > 0; b-- {
			add("bookings", id("bookings"), c, ago(3650), fmt.Sprintf("10.%d.%d.%d", c%250, b, rng.Intn(250)))
		}
		for i := rng.Intn(3); i > 0; i-- {
			issued := ago(3650)
			add("invoices", id("invoices"), c, issued.Format("2006-01-02"), fmt.Sprintf("Guest Nummer %d", c),
				fmt.Sprintf("Strandvejen %d", rng.Intn(300)), fmt.Sprintf("%d.%02d", 50+rng.Intn(2000), rng.Intn(100)))
		}
		if rng.Intn(2) == 0 {
			add("support_tickets", id("support_tickets"), c, ago(365), fmt.Sprintf("Question about booking %d", c))
		}
	}
	for i := 1; i <= customers/2; i++ {
		add("contact_requests", i, fmt.Sprintf("visitor%d@mail.example", i), fmt.Sprintf("Visitor %d", i),
			fmt.Sprintf("Do you have a room on day %d?", i), ago(730))
	}
	for _, table := range bookingTables {
		insertRows(t, db, s.Engine, table.name, table.columns, rows[table.name])
	}
	return db
}

// dsnUTC makes the MariaDB driver read and write DATETIME values as UTC.
func dsnUTC(engine string) string {
	if engine == testdb.MariaDB {
		return "&loc=UTC"
	}
	return ""
}

func insertRows(t *testing.T, db *sql.DB, engine, table string, columns []string, rows [][]any) {
	t.Helper()
	const batch = 500
	for start := 0; start < len(rows); start += batch {
		chunk := rows[start:min(start+batch, len(rows))]
		var tuples []string
		var args []any
		for _, row := range chunk {
			var ph []string
			for range row {
				args = append(args, nil)
				if engine == testdb.Postgres {
					ph = append(ph, fmt.Sprintf("$%d", len(args)))
				} else {
					ph = append(ph, "?")
				}
				args[len(args)-1] = row[len(ph)-1]
			}
			tuples = append(tuples, "("+strings.Join(ph, ", ")+")")
		}
		stmt := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(columns, ", "), strings.Join(tuples, ", "))
		if _, err := db.Exec(stmt, args...); err != nil {
			t.Fatalf("insert into %s: %v", table, err)
		}
	}
}
