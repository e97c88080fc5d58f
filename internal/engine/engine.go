// Package engine puts the tenant databases Lethe works on behind one interface: PostgreSQL
// (pgx v5) and MySQL/MariaDB (go-sql-driver/mysql). An engine connects with the plan's
// credentials and TLS settings, introspects the catalog, quotes identifiers it found there,
// runs statements in short transactions with lock and statement timeouts, and turns driver
// errors into the report's error codes with messages that never carry row values.
package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// Engine is one connection to one tenant database.
type Engine interface {
	// Dialect is the SQL dialect of the engine, for the masks' SQL forms.
	Dialect() mask.Dialect
	// Catalog introspects the tables of the database (its current schema).
	Catalog(ctx context.Context) (*Catalog, error)
	// Placeholder returns the bind placeholder of the n-th parameter (1-based).
	Placeholder(n int) string
	// TextExpr returns an SQL expression converting the SQL expression expr to text.
	TextExpr(expr string) string
	// Concat returns an SQL expression concatenating text expressions.
	Concat(exprs ...string) string
	// Normalize returns the SQL expression of a text expression normalised by the steps
	// of an identifier.Normalization (trim, lowercase, digits, in that order).
	Normalize(expr string, steps []string) string
	// Tx runs fn in one transaction bounded by the lock and statement timeouts, commits when
	// fn returns nil and rolls back otherwise. Errors come back as *Error.
	Tx(ctx context.Context, fn func(tx *sql.Tx) error) error
	// Close closes the connection.
	Close() error
}

// Timeouts bound every statement the engine runs.
type Timeouts struct {
	// Lock is how long a statement waits for a row or table lock.
	Lock time.Duration
	// Statement is how long one statement may run.
	Statement time.Duration
}

// Default timeouts, when the plan sets none.
const (
	DefaultLockTimeout      = 10 * time.Second
	DefaultStatementTimeout = 2 * time.Minute
	connectTimeout          = 15 * time.Second
)

// Engine names accepted in plan.Database.Engine.
const (
	Postgres = "postgres"
	MySQL    = "mysql"
	MariaDB  = "mariadb"
)

// Open connects to the database the plan names. It reads the login from the mounted Secret
// files and sets up TLS (require by default).
func Open(ctx context.Context, db plan.Database, timeouts Timeouts) (Engine, error) {
	login, err := readLogin(db)
	if err != nil {
		return nil, err
	}
	return open(ctx, db, login, timeouts)
}

// OpenWithLogin connects like Open with a login given directly rather than read from
// mounted Secret files: `lethe datamap draft` on a workstation, with the login from a DSN.
func OpenWithLogin(ctx context.Context, db plan.Database, user, password string, timeouts Timeouts) (Engine, error) {
	return open(ctx, db, login{user: user, password: password}, timeouts)
}

func open(ctx context.Context, db plan.Database, login login, timeouts Timeouts) (Engine, error) {
	if timeouts.Lock <= 0 {
		timeouts.Lock = DefaultLockTimeout
	}
	if timeouts.Statement <= 0 {
		timeouts.Statement = DefaultStatementTimeout
	}
	if err := checkHost(db); err != nil {
		return nil, err
	}
	tlsConfig, err := tlsConfigFor(db.TLS, db.Host)
	if err != nil {
		return nil, err
	}
	switch db.Engine {
	case Postgres, "postgresql":
		return openPostgres(ctx, db, login, tlsConfig, timeouts)
	case MySQL, MariaDB:
		return openMySQL(ctx, db, login, tlsConfig, timeouts)
	default:
		return nil, &Error{Code: plan.ErrInvalidPlan,
			Message: fmt.Sprintf("unknown database engine %q: use postgres, mysql or mariadb", db.Engine)}
	}
}

// login is a user name and password read from Secret files.
type login struct{ user, password string }

func readLogin(db plan.Database) (login, error) {
	user, err := readSecretFile("username", db.UsernameFile)
	if err != nil {
		return login{}, err
	}
	password, err := readSecretFile("password", db.PasswordFile)
	if err != nil {
		return login{}, err
	}
	return login{user: strings.TrimSpace(user), password: password}, nil
}

// readSecretFile reads a mounted Secret key. A trailing newline (as `kubectl create secret
// --from-file` keeps it) is not part of the value.
func readSecretFile(what, path string) (string, error) {
	if path == "" {
		return "", &Error{Code: plan.ErrInvalidPlan, Message: fmt.Sprintf("the plan names no %s file", what)}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &Error{Code: plan.ErrInvalidPlan,
			Message: fmt.Sprintf("cannot read the %s file %s: is the Secret mounted?", what, path), cause: err}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// tlsConfigFor turns the plan's TLS setting into a client configuration; nil means plain text.
func tlsConfigFor(t plan.TLS, host string) (*tls.Config, error) {
	switch t.Mode {
	case plan.TLSDisable:
		return nil, nil
	case "", plan.TLSRequire:
		// require encrypts without checking the certificate, like libpq's sslmode=require;
		// verify-full is the mode that authenticates the server.
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, nil //nolint:gosec
	case plan.TLSVerifyFull:
		if t.CAFile == "" {
			return nil, &Error{Code: plan.ErrInvalidPlan, Message: "TLS mode verify-full needs a CA file"}
		}
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &Error{Code: plan.ErrInvalidPlan,
				Message: fmt.Sprintf("cannot read the CA file %s: is the Secret mounted?", t.CAFile), cause: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &Error{Code: plan.ErrInvalidPlan, Message: fmt.Sprintf("the CA file %s holds no PEM certificate", t.CAFile)}
		}
		name := t.ServerName
		if name == "" {
			name = host
		}
		return &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12}, nil
	default:
		return nil, &Error{Code: plan.ErrInvalidPlan,
			Message: fmt.Sprintf("unknown TLS mode %q: use disable, require or verify-full", t.Mode)}
	}
}

// conn is what both engines share: one pinned connection, so that session settings hold
// for the whole run and a broken connection fails loudly instead of reconnecting silently.
type conn struct {
	db       *sql.DB
	pinned   *sql.Conn
	classify func(error) *Error
	// beginTx runs at the start of each transaction (PostgreSQL sets its timeouts there).
	beginTx func(ctx context.Context, tx *sql.Tx) error
}

func (c *conn) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := c.pinned.BeginTx(ctx, nil)
	if err != nil {
		return c.classify(err)
	}
	if c.beginTx != nil {
		if err := c.beginTx(ctx, tx); err != nil {
			_ = tx.Rollback()
			return c.classify(err)
		}
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return c.classify(err)
	}
	if err := tx.Commit(); err != nil {
		return c.classify(err)
	}
	return nil
}

func (c *conn) Close() error {
	if c.pinned != nil {
		_ = c.pinned.Close()
	}
	return c.db.Close()
}

// pin opens the single connection the engine uses.
func (c *conn) pin(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	sc, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	c.pinned = sc
	return nil
}
