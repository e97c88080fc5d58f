package engine

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/lethe-operator/lethe/internal/identifier"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// mysqlEngine is the MySQL and MariaDB engine (go-sql-driver/mysql).
type mysqlEngine struct {
	conn
	address string
}

func openMySQL(ctx context.Context, db plan.Database, l login, tlsConfig *tls.Config, timeouts Timeouts) (Engine, error) {
	port := db.Port
	if port == 0 {
		port = 3306
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = l.user, l.password
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", net.JoinHostPort(db.Host, strconv.Itoa(port)), db.Name
	cfg.TLS = tlsConfig
	cfg.Timeout = connectTimeout
	cfg.DialFunc = dialer(db).DialContext
	cfg.ParseTime, cfg.Loc = true, time.UTC
	// Values travel as server-side bind parameters, never interpolated into the text.
	cfg.InterpolateParams, cfg.MultiStatements = false, false
	m := &mysqlEngine{address: cfg.Addr}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, &Error{Code: plan.ErrInvalidPlan, Message: "invalid MySQL connection settings", cause: err}
	}
	m.db = sql.OpenDB(connector)
	m.classify = m.classifyError
	if err := m.pin(ctx); err != nil {
		m.db.Close()
		return nil, m.classifyError(err)
	}
	if err := m.setSession(ctx, timeouts); err != nil {
		m.Close()
		return nil, m.classifyError(err)
	}
	return m, nil
}

// setSession sets the connection's time zone and timeouts; the connection is pinned, so
// they hold for every transaction of the run.
func (m *mysqlEngine) setSession(ctx context.Context, t Timeouts) error {
	var version string
	if err := m.pinned.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return err
	}
	lockSeconds := max(1, int64(math.Ceil(t.Lock.Seconds())))
	stmts := []string{
		"SET SESSION time_zone = '+00:00'",
		fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", lockSeconds),
		fmt.Sprintf("SET SESSION lock_wait_timeout = %d", lockSeconds),
	}
	if strings.Contains(version, "MariaDB") {
		stmts = append(stmts, fmt.Sprintf("SET SESSION max_statement_time = %.3f", t.Statement.Seconds()))
	} else {
		stmts = append(stmts, fmt.Sprintf("SET SESSION max_execution_time = %d", t.Statement.Milliseconds()))
	}
	for _, s := range stmts {
		if _, err := m.pinned.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func (m *mysqlEngine) Dialect() mask.Dialect { return mask.MySQL }

func (m *mysqlEngine) Placeholder(int) string { return "?" }

func (m *mysqlEngine) TextExpr(expr string) string { return "CAST(" + expr + " AS CHAR)" }

func (m *mysqlEngine) Concat(exprs ...string) string {
	return "CONCAT(" + strings.Join(exprs, ", ") + ")"
}

// Normalize writes the steps as LOWER(TRIM(expr)) and so on. Under a case-insensitive
// collation LOWER changes nothing a comparison sees, but under a binary or
// case-sensitive one it is what makes e-mail addresses match without case.
func (m *mysqlEngine) Normalize(expr string, steps []string) string {
	for _, step := range steps {
		switch step {
		case identifier.Trim:
			expr = "TRIM(" + expr + ")"
		case identifier.Lowercase:
			expr = "LOWER(" + expr + ")"
		case identifier.Digits:
			expr = "REGEXP_REPLACE(" + expr + ", '[^0-9]', '')"
		}
	}
	return expr
}

// quoteMySQL quotes an identifier: backticks, with embedded ones doubled.
func quoteMySQL(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

const mysqlColumnsQuery = `
SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.DATA_TYPE, c.IS_NULLABLE = 'YES',
       COALESCE(c.CHARACTER_MAXIMUM_LENGTH, 0)
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`

const mysqlUniqueQuery = `
SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 AND COLUMN_NAME IS NOT NULL
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`

const mysqlForeignKeyQuery = `
SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_SCHEMA = DATABASE()
  AND REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`

func (m *mysqlEngine) Catalog(ctx context.Context) (*Catalog, error) {
	b := newCatalogBuilder(quoteMySQL)
	err := m.Tx(ctx, func(tx *sql.Tx) error {
		if err := eachRow(ctx, tx, mysqlColumnsQuery, func(r *sql.Rows) error {
			var table, name, typ, dataType string
			var nullable bool
			var maxLength int64
			if err := r.Scan(&table, &name, &typ, &dataType, &nullable, &maxLength); err != nil {
				return err
			}
			b.addColumn(table, name, typ, mysqlKind(strings.ToLower(dataType)), nullable, int(min(maxLength, math.MaxInt32)))
			return nil
		}); err != nil {
			return err
		}
		var unique keyParts
		if err := eachRow(ctx, tx, mysqlUniqueQuery, func(r *sql.Rows) error {
			var table, index, column string
			if err := r.Scan(&table, &index, &column); err != nil {
				return err
			}
			// Index names are per table in MySQL.
			part := unique.add(table+"\x00"+index, table, column)
			part.primary, part.key = index == "PRIMARY", true
			return nil
		}); err != nil {
			return err
		}
		for _, id := range unique.order {
			u := unique.parts[id]
			b.addUnique(u.table, u.columns, u.primary, u.key)
		}
		return m.foreignKeys(ctx, tx, b)
	})
	if err != nil {
		return nil, err
	}
	return b.cat, nil
}

func (m *mysqlEngine) foreignKeys(ctx context.Context, tx *sql.Tx, b *catalogBuilder) error {
	var fks keyParts
	names := map[string]string{}
	if err := eachRow(ctx, tx, mysqlForeignKeyQuery, func(r *sql.Rows) error {
		var table, name, column, refTable, refColumn string
		if err := r.Scan(&table, &name, &column, &refTable, &refColumn); err != nil {
			return err
		}
		id := table + "\x00" + name
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

// mysqlKind maps a MySQL/MariaDB DATA_TYPE to the kind of value a mask sees.
func mysqlKind(dataType string) mask.ValueKind {
	switch dataType {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return mask.KindText
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return mask.KindInteger
	case "decimal", "numeric":
		return mask.KindDecimal
	case "date":
		return mask.KindDate
	case "datetime", "timestamp":
		return mask.KindTimestamp
	}
	return mask.KindOther
}

// mysqlErrors maps server error numbers to a report code and a message that holds no
// values (the server's own messages quote them, e.g. "Duplicate entry 'x' for key").
var mysqlErrors = map[uint16]struct{ code, message string }{
	1045: {plan.ErrAuthentication, "the database refused the login: wrong user name or password"},
	1044: {plan.ErrAuthentication, "the database refused the login: no access to this database"},
	1698: {plan.ErrAuthentication, "the database refused the login for this user"},
	1142: {plan.ErrAuthentication, "the database user lacks a privilege on a table"},
	1049: {plan.ErrUnreachable, "the database does not exist on the server"},
	1146: {plan.ErrMissingTable, "a table does not exist"},
	1054: {plan.ErrMissingColumn, "a column does not exist"},
	1205: {plan.ErrTimeout, "a statement waited longer than the lock timeout for a row lock"},
	1969: {plan.ErrTimeout, "a statement ran longer than the statement timeout"},
	3024: {plan.ErrTimeout, "a statement ran longer than the statement timeout"},
	1213: {plan.ErrTimeout, "a deadlock with another transaction"},
	1062: {plan.ErrIncompatible, "a unique constraint refused the change"},
	1048: {plan.ErrIncompatible, "a NOT NULL constraint refused the change"},
	1451: {plan.ErrIncompatible, "a foreign key refused the change (a row is still referenced)"},
	1452: {plan.ErrIncompatible, "a foreign key refused the change"},
	1406: {plan.ErrIncompatible, "a masked value is too long for its column"},
	1040: {plan.ErrUnreachable, "the database server has too many connections"},
}

func (m *mysqlEngine) classifyError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		known, ok := mysqlErrors[myErr.Number]
		if !ok {
			return &Error{Code: plan.ErrInternal, Message: fmt.Sprintf("MySQL error %d (SQLSTATE %s)", myErr.Number, string(myErr.SQLState[:])), cause: err}
		}
		msg := known.message
		if known.code == plan.ErrAuthentication || known.code == plan.ErrUnreachable {
			msg += fmt.Sprintf(" (%s)", m.address)
		}
		return &Error{Code: known.code, Message: fmt.Sprintf("%s [MySQL error %d]", msg, myErr.Number), cause: err}
	}
	if ce := connectError(err, m.address); ce != nil {
		return ce
	}
	if errors.Is(err, mysql.ErrNoTLS) {
		return &Error{Code: plan.ErrUnreachable, Message: fmt.Sprintf("TLS: the server at %s does not accept TLS (set tls.mode: disable only on trusted networks)", m.address), cause: err}
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) {
		return &Error{Code: plan.ErrUnreachable, Message: fmt.Sprintf("the connection to %s broke", m.address), cause: err}
	}
	return AsError(err)
}
