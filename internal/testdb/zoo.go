package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ZooTables are the tables of the schema zoo (ZooSchema), parents first.
var ZooTables = []ZooTable{
	{"address", []string{"address_id"}},
	{"store", []string{"store_id"}},
	{"staff", []string{"staff_id"}},
	{"Customer", []string{"customer_id"}},
	{"invoice", []string{"invoice_id"}},
	{"invoice_line", []string{"invoice_id", "line_no"}},
	{"refund", []string{"refund_id"}},
	{"payment", []string{"payment_id", "paid_at"}},
	{"support_ticket", []string{"ticket_id"}},
}

// ZooTable is a table of the schema zoo and its primary key.
type ZooTable struct {
	Name       string
	PrimaryKey []string
}

// Quote quotes a table name for the engine.
func Quote(engine, name string) string {
	if engine == MariaDB {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

// ZooSchema returns the statements that create the schema zoo: its tables, triggers and rows.
//
// The zoo is a shop schema shaped like the public sample schemas (Sakila,
// Chinook) rather than like a schema written for Lethe:
//
//   - address rows are shared: by customers (a household of two), by staff, by the store,
//     and one belongs to nobody; customers reference their address (referencedBy);
//   - "Customer" is a quoted mixed-case table whose rows reference their account manager
//     (a staff row that is not the customer's, through a nullable foreign key), carry
//     e-mail addresses in mixed case and with spaces, and belong to accounts whose last
//     admin must stay (a guard);
//   - staff reference each other (reports_to, a self-reference) and the store, which
//     references its manager back;
//   - invoice → invoice_line → refund is a chain of three, the last one on a composite
//     foreign key; invoices are under a 7-year bookkeeping hold that keeps their lines
//     and refunds;
//   - payment is partitioned by date on PostgreSQL and links to its customer through a
//     nullable column (payments of removed customers have none);
//   - support_ticket is assigned to a staff member through a NOT NULL column with
//     ON DELETE SET NULL on PostgreSQL: deleting that staff row must never be tried;
//   - BEFORE UPDATE triggers bump last_update on address, "Customer" and staff, so an
//     update that changes nothing still shows in the row.
//
// now is 2026-06-01. Customers (account, role, last login):
//
//	1 Ann   10 member 2026-05-01  address 1 (hers)        manager 2 (Tia)
//	2 Bob   20 admin  2020-01-01  address 2 (with Cat)     manager 2
//	3 Cat   20 admin  2026-04-01  address 2 (with Bob)     -
//	4 Dan   30 admin  2019-01-01  address 5 (with Tia)     manager 1 (Sam)  the last admin of 30
//	5 Eve   30 member 2018-01-01  address 6 (hers)        -                e-mail " Eve@Example.COM "
//	6 Fay   40 admin  2026-05-20  address 8 (hers)        manager 1
//	7 Gus   40 admin  2017-01-01  address 9 (his)         -
//	8 Hal   10 admin  2026-05-25  address 10 (his)        -
//	9 Ivy   50 admin  NULL        address 11              e-mail JOHN.X@example.com
//	10 Jon  50 admin  NULL        address 12              e-mail john.x@EXAMPLE.com (the same, in other case)
//
// Address 3 is the store's, 4 Sam's and Uma's (staff), 5 Tia's (staff) and Dan's, 7 nobody's.
func ZooSchema(engine string) []string {
	ts, bump := "TIMESTAMP(6)", "CURRENT_TIMESTAMP(6)"
	setNull := ""
	if engine == Postgres {
		ts, bump, setNull = "TIMESTAMP", "now()", " ON DELETE SET NULL"
	}
	c := Quote(engine, "Customer")
	stmts := []string{
		`CREATE TABLE address (address_id BIGINT PRIMARY KEY, line1 VARCHAR(100) NOT NULL, city VARCHAR(50) NOT NULL,
		  postal_code VARCHAR(10) NULL, phone VARCHAR(30) NULL, last_update ` + ts + ` NOT NULL)`,
		`CREATE TABLE store (store_id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL, address_id BIGINT NOT NULL,
		  manager_staff_id BIGINT NULL, FOREIGN KEY (address_id) REFERENCES address (address_id))`,
		`CREATE TABLE staff (staff_id BIGINT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
		  email VARCHAR(100) NOT NULL UNIQUE, address_id BIGINT NOT NULL, store_id BIGINT NOT NULL, reports_to BIGINT NULL,
		  last_update ` + ts + ` NOT NULL,
		  FOREIGN KEY (address_id) REFERENCES address (address_id), FOREIGN KEY (store_id) REFERENCES store (store_id),
		  FOREIGN KEY (reports_to) REFERENCES staff (staff_id))`,
		`ALTER TABLE store ADD FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id)`,
		`CREATE TABLE ` + c + ` (customer_id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, role VARCHAR(10) NOT NULL,
		  first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL, email VARCHAR(100) NOT NULL,
		  address_id BIGINT NOT NULL, account_manager_id BIGINT NULL, last_login ` + ts + ` NULL, last_update ` + ts + ` NOT NULL,
		  FOREIGN KEY (address_id) REFERENCES address (address_id),
		  FOREIGN KEY (account_manager_id) REFERENCES staff (staff_id))`,
		`CREATE TABLE invoice (invoice_id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, billing_name VARCHAR(100) NOT NULL,
		  issued_at DATE NOT NULL, total DECIMAL(10,2) NOT NULL, FOREIGN KEY (customer_id) REFERENCES ` + c + ` (customer_id))`,
		`CREATE TABLE invoice_line (invoice_id BIGINT NOT NULL, line_no INT NOT NULL, description VARCHAR(200) NOT NULL,
		  amount DECIMAL(10,2) NOT NULL, created_at DATE NOT NULL, PRIMARY KEY (invoice_id, line_no),
		  FOREIGN KEY (invoice_id) REFERENCES invoice (invoice_id))`,
		`CREATE TABLE refund (refund_id BIGINT PRIMARY KEY, invoice_id BIGINT NOT NULL, line_no INT NOT NULL,
		  reason VARCHAR(200) NOT NULL, FOREIGN KEY (invoice_id, line_no) REFERENCES invoice_line (invoice_id, line_no))`,
		`CREATE TABLE support_ticket (ticket_id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, assigned_staff_id BIGINT NOT NULL,
		  body VARCHAR(500) NULL, created_at DATE NOT NULL,
		  FOREIGN KEY (customer_id) REFERENCES ` + c + ` (customer_id),
		  FOREIGN KEY (assigned_staff_id) REFERENCES staff (staff_id)` + setNull + `)`,
	}
	if engine == Postgres {
		stmts = append(stmts,
			`CREATE TABLE payment (payment_id BIGINT NOT NULL, paid_at DATE NOT NULL, customer_id BIGINT NULL REFERENCES "Customer" (customer_id),
			  card_holder VARCHAR(100) NULL, amount NUMERIC(10,2) NOT NULL, PRIMARY KEY (payment_id, paid_at)) PARTITION BY RANGE (paid_at)`,
			`CREATE TABLE payment_old PARTITION OF payment FOR VALUES FROM (MINVALUE) TO ('2025-01-01')`,
			`CREATE TABLE payment_2025 PARTITION OF payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
			`CREATE TABLE payment_2026 PARTITION OF payment FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
			`CREATE FUNCTION bump_last_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.last_update := now(); RETURN NEW; END $$`)
		for _, t := range []string{"address", "staff", "Customer"} {
			stmts = append(stmts, `CREATE TRIGGER `+strings.ToLower(t)+`_bump BEFORE UPDATE ON `+Quote(engine, t)+` FOR EACH ROW EXECUTE FUNCTION bump_last_update()`)
		}
	} else {
		stmts = append(stmts,
			`CREATE TABLE payment (payment_id BIGINT NOT NULL, paid_at DATE NOT NULL, customer_id BIGINT NULL,
			  card_holder VARCHAR(100) NULL, amount DECIMAL(10,2) NOT NULL, PRIMARY KEY (payment_id, paid_at),
			  FOREIGN KEY (customer_id) REFERENCES Customer (customer_id))`)
		for _, t := range []string{"address", "staff", "Customer"} {
			stmts = append(stmts, `CREATE TRIGGER `+strings.ToLower(t)+`_bump BEFORE UPDATE ON `+Quote(engine, t)+` FOR EACH ROW SET NEW.last_update = `+bump)
		}
	}
	stmts = append(stmts,
		`INSERT INTO address VALUES
		  (1, '1 Ann Street', 'Aarhus', '8000', '+45 1111', '2020-01-01 00:00:00'),
		  (2, '2 Household Road', 'Bergen', '5003', '+47 2222', '2020-01-01 00:00:00'),
		  (3, '3 Shop Square', 'Aarhus', '8000', '+45 3333', '2020-01-01 00:00:00'),
		  (4, '4 Staff Lane', 'Aarhus', '8200', '+45 4444', '2020-01-01 00:00:00'),
		  (5, '5 Tia Court', 'Odense', '5000', '+45 5555', '2020-01-01 00:00:00'),
		  (6, '6 Eve Avenue', 'Oslo', '0150', '+47 6666', '2020-01-01 00:00:00'),
		  (7, '7 Nobody Way', 'Malmo', '21115', NULL, '2015-01-01 00:00:00'),
		  (8, '8 Fay Place', 'Lund', '22100', '+46 8888', '2020-01-01 00:00:00'),
		  (9, '9 Gus Gate', 'Turku', '20100', '+358 9999', '2020-01-01 00:00:00'),
		  (10, '10 Hal Hill', 'Aarhus', '8000', NULL, '2020-01-01 00:00:00'),
		  (11, '11 Ivy Row', 'Kiel', '24103', NULL, '2020-01-01 00:00:00'),
		  (12, '12 Jon Row', 'Kiel', '24103', NULL, '2020-01-01 00:00:00')`,
		`INSERT INTO store VALUES (1, 'Aarhus shop', 3, NULL)`,
		`INSERT INTO staff VALUES
		  (1, 'Sam', 'Boss', 'sam@shop.example', 4, 1, NULL, '2020-01-01 00:00:00'),
		  (2, 'Tia', 'Team', 'tia@shop.example', 5, 1, 1, '2020-01-01 00:00:00'),
		  (3, 'Uma', 'Aide', 'uma@shop.example', 4, 1, 2, '2020-01-01 00:00:00')`,
		`UPDATE store SET manager_staff_id = 1 WHERE store_id = 1`,
		`INSERT INTO `+c+` VALUES
		  (1, 10, 'member', 'Ann', 'Smith', 'Ann.Smith@Example.com', 1, 2, '2026-05-01 00:00:00', '2020-01-01 00:00:00'),
		  (2, 20, 'admin', 'Bob', 'Brown', 'BOB@example.com', 2, 2, '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
		  (3, 20, 'admin', 'Cat', 'Brown', 'cat@example.com', 2, NULL, '2026-04-01 00:00:00', '2020-01-01 00:00:00'),
		  (4, 30, 'admin', 'Dan', 'Dane', 'dan@example.com', 5, 1, '2019-01-01 00:00:00', '2020-01-01 00:00:00'),
		  (5, 30, 'member', 'Eve', 'East', ' Eve@Example.COM ', 6, NULL, '2018-01-01 00:00:00', '2020-01-01 00:00:00'),
		  (6, 40, 'admin', 'Fay', 'Fox', 'fay@example.com', 8, 1, '2026-05-20 00:00:00', '2020-01-01 00:00:00'),
		  (7, 40, 'admin', 'Gus', 'Gray', 'gus@example.com', 9, NULL, '2017-01-01 00:00:00', '2020-01-01 00:00:00'),
		  (8, 10, 'admin', 'Hal', 'Hart', 'hal@example.com', 10, NULL, '2026-05-25 00:00:00', '2020-01-01 00:00:00'),
		  (9, 50, 'admin', 'Ivy', 'Ide', 'JOHN.X@example.com', 11, NULL, NULL, '2020-01-01 00:00:00'),
		  (10, 50, 'admin', 'Jon', 'Jay', 'john.x@EXAMPLE.com', 12, NULL, NULL, '2020-01-01 00:00:00')`,
		`INSERT INTO invoice VALUES
		  (100, 1, 'Ann Smith', '2024-03-01', 120.00), (101, 1, 'Ann Smith', '2018-01-15', 80.00),
		  (200, 2, 'Bob Brown', '2022-06-01', 300.00), (500, 5, 'Eve East', '2017-05-01', 45.00)`,
		`INSERT INTO invoice_line VALUES
		  (100, 1, 'Ann: boots', 100.00, '2024-03-01'), (100, 2, 'Ann: laces', 20.00, '2024-03-01'),
		  (101, 1, 'Ann: scarf', 80.00, '2018-01-15'),
		  (200, 1, 'Bob: tent', 200.00, '2022-06-01'), (200, 2, 'Bob: pegs', 50.00, '2022-06-01'), (200, 3, 'Bob: mat', 50.00, '2022-06-01'),
		  (500, 1, 'Eve: hat', 30.00, '2017-05-01'), (500, 2, 'Eve: gloves', 15.00, '2017-05-01')`,
		`INSERT INTO refund VALUES (1000, 100, 2, 'Ann: laces too short'), (1001, 101, 1, 'Ann: scarf itches'), (1002, 500, 1, 'Eve: hat too small')`,
		`INSERT INTO payment VALUES
		  (1, '2026-02-01', 1, 'A SMITH', 10.00), (2, '2025-06-01', 1, 'A SMITH', 20.00), (3, '2020-01-01', 2, 'B BROWN', 30.00),
		  (4, '2019-01-01', NULL, 'GONE', 40.00), (5, '2018-01-01', 5, 'E EAST', 50.00), (6, '2026-01-01', NULL, 'GONE TOO', 60.00)`,
		`INSERT INTO support_ticket VALUES
		  (1, 1, 1, 'Ann: my boots leak, call +45 1111', '2026-05-02'), (2, 2, 2, 'Bob: tent pole broken', '2020-02-01'),
		  (3, 5, 2, 'Eve: where is my hat', '2018-02-01')`,
	)
	return stmts
}

// RowHashes returns a SHA-256 of every row of every zoo table, by table and primary key
// ("1", or "100|2" for a composite key): two snapshots tell which rows changed.
func RowHashes(ctx context.Context, db *sql.DB, engine string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, zt := range ZooTables {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+Quote(engine, zt.Name))
		if err != nil {
			return nil, err
		}
		cols, _ := rows.Columns()
		out[zt.Name] = map[string]string{}
		for rows.Next() {
			row, err := scanText(rows, len(cols))
			if err != nil {
				rows.Close()
				return nil, err
			}
			var key []string
			for _, k := range zt.PrimaryKey {
				key = append(key, row[slices.Index(cols, k)])
			}
			sum := sha256.Sum256([]byte(fmt.Sprintf("%q", row)))
			out[zt.Name][strings.Join(key, "|")] = hex.EncodeToString(sum[:])
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ZooKeys returns "table:key" of the rows of a zoo table where cond holds, spelled as
// RowHashes spells keys.
func ZooKeys(ctx context.Context, db *sql.DB, engine, table, cond string) ([]string, error) {
	var pk []string
	for _, zt := range ZooTables {
		if zt.Name == table {
			pk = zt.PrimaryKey
		}
	}
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(pk, ", ")+" FROM "+Quote(engine, table)+" WHERE "+cond)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		row, err := scanText(rows, len(pk))
		if err != nil {
			return nil, err
		}
		out = append(out, table+":"+strings.Join(row, "|"))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no row of %s where %s", table, cond)
	}
	return out, nil
}

// scanText scans a row with n columns into text, "NULL" for NULL.
func scanText(rows *sql.Rows, n int) ([]string, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			out[i] = "NULL"
		case []byte:
			out[i] = string(x)
		case time.Time:
			out[i] = x.UTC().Format("2006-01-02 15:04:05.999999")
		default:
			out[i] = fmt.Sprint(x)
		}
	}
	return out, nil
}
