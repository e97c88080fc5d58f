package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/lethe-operator/lethe/internal/testdb"
)

// bookingDB is the sample booking application's database of one tenant.
type bookingDB struct {
	server *testdb.Server
	name   string
	db     *sql.DB
	// ref is "now" for the generated data: every time is a whole number of days plus
	// 2h17m to 21h17m before it, so no row sits within two hours of a rule's cutoff
	// (the same time of day as ref) while the demo runs.
	ref time.Time
}

// The booking schema: the sample DataMap's tables plus accounts and contact_requests
// (config/samples/kustomization.yaml adds them to the DataMap).
var bookingSchema = []string{
	`CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, full_name text,
	  phone varchar(32), birth_date date, country char(2), last_login_at timestamptz, created_at timestamptz NOT NULL)`,
	`CREATE TABLE accounts (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
	  alias varchar(64), alias_consent boolean NOT NULL)`,
	`CREATE TABLE bookings (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
	  created_at timestamptz NOT NULL, ip_address inet)`,
	`CREATE TABLE invoices (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
	  issued_at date NOT NULL, billing_name text, billing_address text, amount numeric(10,2) NOT NULL)`,
	`CREATE TABLE support_tickets (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
	  created_at timestamptz NOT NULL, body text)`,
	`CREATE TABLE contact_requests (id bigint PRIMARY KEY, email varchar(255) NOT NULL, name text,
	  message text, created_at timestamptz NOT NULL)`,
	`CREATE INDEX ON bookings (customer_id)`,
	`CREATE INDEX ON invoices (customer_id)`,
	`CREATE INDEX ON support_tickets (customer_id)`,
	`CREATE INDEX ON accounts (customer_id)`,
}

// bookingTables in the order the demo prints them.
var bookingTables = []string{"customers", "accounts", "bookings", "invoices", "support_tickets", "contact_requests"}

// offset is a generated row's time of day relative to ref: 2h17m to 21h17m earlier,
// varying with the row's key k.
func offset(k string) string {
	return fmt.Sprintf("(2 + %s %% 20) * interval '1 hour' - interval '17 minutes'", k)
}

// loadStatement is one set-based statement filling the schema, and the values of its
// parameters: "ref", "customers" or "holdCutoff" (the date seven years before ref: no
// invoice is issued within a day of it, so none flips in or out of the bookkeeping hold
// while the demo runs).
type loadStatement struct {
	sql    string
	params []string
}

var bookingData = []loadStatement{
	// Customers signed up over ten years; their last login is skewed towards the present.
	{`INSERT INTO customers (id, email, full_name, phone, birth_date, country, last_login_at, created_at)
	 SELECT g, 'guest' || g || '@mail.example', 'Guest Nummer ' || g, '+45 ' || lpad(g::text, 8, '0'),
	        date '1940-01-01' + floor(b * 23725)::int, (ARRAY['DK','SE','DE','NO','FI'])[1 + g % 5],
	        $1::timestamptz - floor(cd * u * u) * interval '1 day' - ` + offset("g") + `,
	        $1::timestamptz - cd * interval '1 day' - ` + offset("g") + `
	 FROM (SELECT g, floor(random() * 3650)::int AS cd, random() AS u, random() AS b
	       FROM generate_series(1, $2::int) g) c`, []string{"ref", "customers"}},
	// One account each; a third never consented to showing their alias.
	{`INSERT INTO accounts (id, customer_id, alias, alias_consent)
	 SELECT id, id, 'traveller-' || id, random() < 0.67 FROM customers`, nil},
	// Up to four bookings each, between sign-up and now.
	{`INSERT INTO bookings (id, customer_id, created_at, ip_address)
	 SELECT row_number() OVER (ORDER BY c.id, k), c.id,
	        $1::timestamptz - floor(random() * date_part('day', $1::timestamptz - c.created_at)) * interval '1 day' - ` + offset("c.id") + `,
	        ('10.' || c.id % 250 || '.' || k || '.' || floor(random() * 250)::int)::inet
	 FROM customers c CROSS JOIN generate_series(1, 4) k
	 WHERE random() < 0.45`, []string{"ref"}},
	// An invoice for most bookings, issued the day of the booking.
	{`INSERT INTO invoices (id, customer_id, issued_at, billing_name, billing_address, amount)
	 SELECT b.id, b.customer_id, (b.created_at AT TIME ZONE 'UTC')::date, c.full_name,
	        'Strandvejen ' || 1 + b.id % 300 || ', ' || 2100 + c.id % 800 || ' København', round((49 + random() * 2000)::numeric, 2)
	 FROM bookings b JOIN customers c ON c.id = b.customer_id
	 WHERE random() < 0.8 AND abs((b.created_at AT TIME ZONE 'UTC')::date - $1::date) > 1`, []string{"holdCutoff"}},
	// Support mail of the last year, from a third of the customers.
	{`INSERT INTO support_tickets (id, customer_id, created_at, body)
	 SELECT row_number() OVER (ORDER BY c.id), c.id,
	        $1::timestamptz - floor(random() * least(365, date_part('day', $1::timestamptz - c.created_at))) * interval '1 day' - ` + offset("c.id") + `,
	        'Hello, about my booking: could we check in late? Regards, ' || c.full_name
	 FROM customers c WHERE random() < 0.33`, []string{"ref"}},
	// Contact-form entries of visitors (no customer account) over two years.
	{`INSERT INTO contact_requests (id, email, name, message, created_at)
	 SELECT g, 'visitor' || g || '@mail.example', 'Visitor ' || g, 'Do you have a double room on the ' || 1 + g % 28 || 'th?',
	        $1::timestamptz - floor(random() * 730) * interval '1 day' - ` + offset("g") + `
	 FROM generate_series(1, $2::int / 2) g`, []string{"ref", "customers"}},
	{`ANALYZE`, nil},
}

// startDatabase starts PostgreSQL and loads the booking database.
func (d *demo) startDatabase(ctx context.Context) error {
	d.progress.step("starting PostgreSQL (TLS, a throwaway data directory)")
	pg, err := testdb.StartServer(testdb.Postgres)
	if err != nil {
		return err
	}
	d.defer_(pg.Stop)
	d.booking = &bookingDB{server: pg, name: "aurora", ref: time.Now().UTC().Truncate(time.Second)}
	if err := pg.CreateDatabase(ctx, d.booking.name); err != nil {
		return err
	}
	db, err := sql.Open("pgx", pg.DSN(d.booking.name)+"&timezone=UTC")
	if err != nil {
		return err
	}
	d.booking.db = db
	// Stop PostgreSQL with a fast shutdown of its postmaster: the server runs under
	// runuser, which does not pass the interrupt testdb sends it on, and testdb would
	// wait 20 seconds before killing it.
	if postmaster, err := postmasterPID(ctx, db); err == nil {
		d.defer_(func() { _ = syscall.Kill(postmaster, syscall.SIGINT) })
	}
	d.defer_(func() { _ = db.Close() })
	// One connection: setseed makes random() repeatable within it.
	db.SetMaxOpenConns(1)

	d.progress.step(fmt.Sprintf("loading the booking database: %d customers over ten years", d.customers))
	for _, stmt := range bookingSchema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
	}
	if _, err := db.ExecContext(ctx, "SELECT setseed(0.42)"); err != nil {
		return err
	}
	values := map[string]any{"ref": d.booking.ref, "customers": d.customers,
		"holdCutoff": d.booking.ref.AddDate(-7, 0, 0).Format(time.DateOnly)}
	for _, stmt := range bookingData {
		var args []any
		for _, p := range stmt.params {
			args = append(args, values[p])
		}
		if _, err := db.ExecContext(ctx, stmt.sql, args...); err != nil {
			return fmt.Errorf("loading the booking data: %w\n%s", err, stmt.sql)
		}
	}
	return nil
}

// postmasterPID is the PostgreSQL server's main process: the parent of our backend.
func postmasterPID(ctx context.Context, db *sql.DB) (int, error) {
	var backend int
	if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0, err
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", backend))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid ...; comm may hold spaces, so count from the last ")".
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 2 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", backend)
	}
	return strconv.Atoi(fields[1])
}

// tableCounts counts the rows of every booking table.
func (b *bookingDB) tableCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range bookingTables {
		var n int64
		if err := b.db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, nil
}
