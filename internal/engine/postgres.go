package engine

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lethe-operator/lethe/internal/identifier"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// postgres is the PostgreSQL engine (pgx v5 behind database/sql).
type postgres struct {
	conn
	address  string
	timeouts Timeouts
}

func openPostgres(ctx context.Context, db plan.Database, l login, tlsConfig *tls.Config, timeouts Timeouts) (Engine, error) {
	port := db.Port
	if port == 0 {
		port = 5432
	}
	address := net.JoinHostPort(db.Host, strconv.Itoa(port))
	// Parse only a constant string: everything else is set field by field, so that no
	// value from the plan is parsed as connection-string syntax.
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, &Error{Code: plan.ErrInternal, Message: "cannot build the PostgreSQL configuration", cause: err}
	}
	cfg.Host, cfg.Port, cfg.Database = db.Host, uint16(port), db.Name
	cfg.User, cfg.Password = l.user, l.password
	cfg.TLSConfig, cfg.Fallbacks = tlsConfig, nil
	cfg.ConnectTimeout = connectTimeout
	cfg.DialFunc = dialer(db).DialContext
	// Timestamps without a zone are read and written as UTC, like plan.Now.
	cfg.RuntimeParams = map[string]string{"application_name": "lethe-worker", "timezone": "UTC"}
	p := &postgres{address: address, timeouts: timeouts}
	p.db = stdlib.OpenDB(*cfg)
	p.classify = p.classifyError
	p.beginTx = p.setTimeouts
	if err := p.pin(ctx); err != nil {
		p.db.Close()
		return nil, p.classifyError(err)
	}
	return p, nil
}

func (p *postgres) Dialect() mask.Dialect { return mask.Postgres }

func (p *postgres) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (p *postgres) TextExpr(expr string) string { return "CAST(" + expr + " AS text)" }

func (p *postgres) Concat(exprs ...string) string { return "(" + strings.Join(exprs, " || ") + ")" }

// Normalize writes the steps as lower(btrim(expr)) and so on: plain function calls without
// parameters, so that an expression index on exactly that expression serves the lookup.
func (p *postgres) Normalize(expr string, steps []string) string {
	for _, step := range steps {
		switch step {
		case identifier.Trim:
			expr = "btrim(" + expr + ")"
		case identifier.Lowercase:
			expr = "lower(" + expr + ")"
		case identifier.Digits:
			expr = "regexp_replace(" + expr + ", '[^0-9]', '', 'g')"
		}
	}
	return expr
}

// setTimeouts bounds the transaction: set_config(..., true) is SET LOCAL with bound values.
func (p *postgres) setTimeouts(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
		strconv.FormatInt(p.timeouts.Lock.Milliseconds(), 10), strconv.FormatInt(p.timeouts.Statement.Milliseconds(), 10))
	return err
}

// quotePostgres quotes an identifier: double quotes, with embedded ones doubled.
func quotePostgres(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

const pgColumnsQuery = `
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       COALESCE(bt.typname, t.typname), NOT a.attnotnull,
       CASE WHEN COALESCE(bt.typname, t.typname) IN ('varchar', 'bpchar') AND a.atttypmod > 4
            THEN a.atttypmod - 4 ELSE 0 END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname, a.attnum`

// pgUniqueQuery lists unique indexes (constraints create one too), one row per plain key
// column; whether the index is a key of the whole table (no predicate, no expression).
// A partitioned table's partitions are not tables of the catalog: only their parent is.
const pgUniqueQuery = `
SELECT c.relname, i.indexrelid::text, i.indisprimary, i.indpred IS NULL AND i.indexprs IS NULL, a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE n.nspname = current_schema() AND i.indisunique AND k.pos <= i.indnkeyatts
ORDER BY c.relname, i.indexrelid, k.pos`

const pgForeignKeyQuery = `
SELECT con.oid::text, con.conname, c.relname, a.attname, fc.relname, fa.attname
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class fc ON fc.oid = con.confrelid
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, fattnum, pos)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fattnum
WHERE n.nspname = current_schema() AND con.contype = 'f' AND con.conparentid = 0
ORDER BY con.oid, k.pos`

func (p *postgres) Catalog(ctx context.Context) (*Catalog, error) {
	b := newCatalogBuilder(quotePostgres)
	err := p.Tx(ctx, func(tx *sql.Tx) error {
		if err := eachRow(ctx, tx, pgColumnsQuery, func(r *sql.Rows) error {
			var table, name, typ, base string
			var nullable bool
			var maxLength int
			if err := r.Scan(&table, &name, &typ, &base, &nullable, &maxLength); err != nil {
				return err
			}
			b.addColumn(table, name, typ, pgKind(base), nullable, maxLength)
			return nil
		}); err != nil {
			return err
		}
		var unique keyParts
		if err := eachRow(ctx, tx, pgUniqueQuery, func(r *sql.Rows) error {
			var table, id, column string
			var primary, key bool
			if err := r.Scan(&table, &id, &primary, &key, &column); err != nil {
				return err
			}
			part := unique.add(id, table, column)
			part.primary, part.key = primary, key
			return nil
		}); err != nil {
			return err
		}
		for _, id := range unique.order {
			u := unique.parts[id]
			b.addUnique(u.table, u.columns, u.primary, u.key)
		}
		return p.foreignKeys(ctx, tx, b)
	})
	if err != nil {
		return nil, err
	}
	return b.cat, nil
}

func (p *postgres) foreignKeys(ctx context.Context, tx *sql.Tx, b *catalogBuilder) error {
	var fks keyParts
	names := map[string]string{}
	if err := eachRow(ctx, tx, pgForeignKeyQuery, func(r *sql.Rows) error {
		var id, name, table, column, refTable, refColumn string
		if err := r.Scan(&id, &name, &table, &column, &refTable, &refColumn); err != nil {
			return err
		}
		part := fks.add(id, table, column)
		part.refTable = refTable
		part.refs = append(part.refs, refColumn)
		names[id] = name
		return nil
	}); err != nil {
		return err
	}
	for _, id := range fks.order {
		fk := fks.parts[id]
		b.addForeignKey(names[id], fk.table, fk.columns, fk.refTable, fk.refs)
	}
	return nil
}

// pgKind maps a PostgreSQL base type name to the kind of value a mask sees.
func pgKind(typ string) mask.ValueKind {
	switch typ {
	case "text", "varchar", "bpchar", "citext", "name":
		return mask.KindText
	case "int2", "int4", "int8":
		return mask.KindInteger
	case "numeric":
		return mask.KindDecimal
	case "date":
		return mask.KindDate
	case "timestamp", "timestamptz":
		return mask.KindTimestamp
	case "inet", "cidr":
		return mask.KindInet
	}
	return mask.KindOther
}

// pgErrors maps SQLSTATE codes to a report code and a message that holds no values.
var pgErrors = map[string]struct{ code, message string }{
	"28P01": {plan.ErrAuthentication, "the database refused the login: wrong user name or password"},
	"28000": {plan.ErrAuthentication, "the database refused the login: no access for this user, database or client address"},
	"3D000": {plan.ErrUnreachable, "the database does not exist on the server"},
	"42P01": {plan.ErrMissingTable, "a table does not exist"},
	"42703": {plan.ErrMissingColumn, "a column does not exist"},
	"57014": {plan.ErrTimeout, "a statement ran longer than the statement timeout"},
	"55P03": {plan.ErrTimeout, "a statement waited longer than the lock timeout for a lock"},
	"40P01": {plan.ErrTimeout, "a deadlock with another transaction"},
	"42501": {plan.ErrAuthentication, "the database user lacks a privilege"},
	"23505": {plan.ErrIncompatible, "a unique constraint refused the change"},
	"23502": {plan.ErrIncompatible, "a NOT NULL constraint refused the change"},
	"23503": {plan.ErrIncompatible, "a foreign key refused the change"},
	"23514": {plan.ErrIncompatible, "a check constraint refused the change"},
	"22001": {plan.ErrIncompatible, "a masked value is too long for its column"},
	"57P01": {plan.ErrUnreachable, "the database server is shutting down"},
	"53300": {plan.ErrUnreachable, "the database server has too many connections"},
}

func (p *postgres) classifyError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return p.serverError(pgErr, err)
	}
	if ce := connectError(err, p.address); ce != nil {
		return ce
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		if strings.Contains(connectErr.Error(), "server refused TLS") {
			return &Error{Code: plan.ErrUnreachable, Message: fmt.Sprintf("TLS: the server at %s does not accept TLS (set tls.mode: disable only on trusted networks)", p.address), cause: err}
		}
		return &Error{Code: plan.ErrUnreachable, Message: fmt.Sprintf("cannot connect to PostgreSQL at %s", p.address), cause: err}
	}
	return AsError(err)
}

func (p *postgres) serverError(pgErr *pgconn.PgError, err error) *Error {
	known, ok := pgErrors[pgErr.Code]
	if !ok {
		return &Error{Code: plan.ErrInternal, Table: pgErr.TableName,
			Message: fmt.Sprintf("PostgreSQL error SQLSTATE %s%s", pgErr.Code, where(pgErr.TableName, pgErr.ColumnName, pgErr.ConstraintName)), cause: err}
	}
	msg := known.message
	if known.code == plan.ErrAuthentication || known.code == plan.ErrUnreachable {
		msg += fmt.Sprintf(" (%s)", p.address)
	}
	return &Error{Code: known.code, Table: pgErr.TableName,
		Message: msg + where(pgErr.TableName, pgErr.ColumnName, pgErr.ConstraintName) + " [SQLSTATE " + pgErr.Code + "]", cause: err}
}

// where names the schema objects an error is about (names, never values).
func where(table, column, constraint string) string {
	var parts []string
	if table != "" {
		parts = append(parts, fmt.Sprintf("table %q", table))
	}
	if column != "" {
		parts = append(parts, fmt.Sprintf("column %q", column))
	}
	if constraint != "" {
		parts = append(parts, fmt.Sprintf("constraint %q", constraint))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

// eachRow runs a query and calls fn for every row.
func eachRow(ctx context.Context, tx *sql.Tx, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
