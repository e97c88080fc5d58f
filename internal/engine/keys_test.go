package engine_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/identifier"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// TestCatalogKeysAreKeysOfTheWholeTable: a unique index with a predicate (PostgreSQL) is
// no key, a foreign key may point at a column that is not unique (MariaDB allows it), and
// a partitioned table is one table with its own keys and foreign keys.
func TestCatalogKeysAreKeysOfTheWholeTable(t *testing.T) {
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			db, d := newDatabase(t, name)
			exec(t, db,
				accountsTable(name),
				`CREATE TABLE members (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, country VARCHAR(2) NULL,
				  FOREIGN KEY (account_id) REFERENCES accounts (id))`,
			)
			if name == testdb.MariaDB {
				exec(t, db, `ALTER TABLE members ADD CONSTRAINT members_country FOREIGN KEY (country) REFERENCES accounts (country)`)
			} else {
				exec(t, db, `CREATE UNIQUE INDEX accounts_live_code ON accounts (code) WHERE slug IS NOT NULL`,
					`CREATE TABLE payments (id BIGINT NOT NULL, paid_at DATE NOT NULL, account_id BIGINT NOT NULL REFERENCES accounts (id),
					  PRIMARY KEY (id, paid_at)) PARTITION BY RANGE (paid_at)`,
					`CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
					`CREATE TABLE payments_2026 PARTITION OF payments FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`)
			}
			cat, err := open(t, d, engine.Timeouts{}).Catalog(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			accounts := mustTable(t, cat, "accounts")
			if !accounts.IsKey([]*engine.Column{mustColumn(t, accounts, "id")}) {
				t.Error("accounts.id is the primary key")
			}
			if accounts.IsKey([]*engine.Column{mustColumn(t, accounts, "slug")}) {
				t.Error("accounts.slug is unique but nullable: not a key")
			}
			switch name {
			case testdb.MariaDB:
				members := mustTable(t, cat, "members")
				fks := members.ForeignKeysTo(accounts)
				if len(fks) != 2 {
					t.Fatalf("members has %d foreign keys to accounts, want 2", len(fks))
				}
				if accounts.IsKey([]*engine.Column{mustColumn(t, accounts, "country")}) {
					t.Error("accounts.country is referenced by a foreign key but is no key")
				}
			default:
				code := mustColumn(t, accounts, "code")
				if accounts.IsKey([]*engine.Column{code}) || !accounts.IsUnique(code) {
					t.Error("accounts.code is unique only where slug is set: unique for masks, no key")
				}
				payments := mustTable(t, cat, "payments")
				if got := names(payments.PrimaryKey); len(got) != 2 || len(payments.ForeignKeysTo(accounts)) != 1 {
					t.Errorf("payments: primary key %v, %d foreign keys to accounts", got, len(payments.ForeignKeysTo(accounts)))
				}
				if len(accounts.ReferencedBy) != 2 {
					t.Errorf("accounts is referenced by %d foreign keys, want 2 (members, payments; not the partitions)", len(accounts.ReferencedBy))
				}
				for _, partition := range []string{"payments_2025", "payments_2026"} {
					if _, ok := cat.Table(partition); ok {
						t.Errorf("partition %s is listed as a table", partition)
					}
				}
			}
		})
	}
}

func accountsTable(name string) string {
	if name == testdb.MariaDB {
		return `CREATE TABLE accounts (id BIGINT PRIMARY KEY, country VARCHAR(2) NOT NULL, code VARCHAR(10) NOT NULL,
		  slug VARCHAR(20) NULL UNIQUE, INDEX accounts_country (country))`
	}
	return `CREATE TABLE accounts (id BIGINT PRIMARY KEY, country VARCHAR(2) NOT NULL, code VARCHAR(10) NOT NULL,
	  slug VARCHAR(20) NULL UNIQUE)`
}

// TestNormalizeMatchesTheGoForm compares the SQL form of each normalisation with
// identifier's Go form, on values with case, spaces and punctuation.
func TestNormalizeMatchesTheGoForm(t *testing.T) {
	values := []string{"  John.X@Example.COM  ", "ANNA@example.org", "+45 12-34 (56) 78", "plain", "Ünïcode@Éxample.de"}
	norms := [][]string{{identifier.Trim, identifier.Lowercase}, {identifier.Digits}, {identifier.Trim}, {identifier.Lowercase}}
	for _, name := range engines {
		t.Run(name, func(t *testing.T) {
			_, d := newDatabase(t, name)
			e := open(t, d, engine.Timeouts{})
			for _, steps := range norms {
				n, err := identifier.For("x", steps)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range values {
					var got string
					err := e.Tx(context.Background(), func(tx *sql.Tx) error {
						return tx.QueryRow("SELECT "+e.Normalize(textParam(e), n), v).Scan(&got)
					})
					if err != nil {
						t.Fatal(err)
					}
					if want := n.Apply(v); got != want {
						t.Errorf("%s of %q: SQL %q, Go %q", n, v, got, want)
					}
				}
			}
		})
	}
}

// textParam is the first bind parameter as text.
func textParam(e engine.Engine) string {
	if e.Placeholder(1) == "?" {
		return "CAST(? AS CHAR)"
	}
	return "CAST($1 AS text)"
}
