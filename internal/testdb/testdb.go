// Package testdb starts throwaway PostgreSQL and MariaDB servers for tests: a fresh data
// directory in a temp dir, a free loopback port, TLS with a generated CA, and a password
// login. Each server belongs to one test binary and is stopped when the test ends, so
// packages can run in parallel.
package testdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Engine names match the TenantDatabase engine values.
const (
	Postgres = "postgres"
	MariaDB  = "mariadb"
)

// Settings is how to reach a throwaway server.
type Settings struct {
	Engine   string
	Host     string
	Port     int
	User     string
	Password string
	// Database is the default database created for the tests.
	Database string
	// CACert is the PEM of the CA that signed the server's TLS certificate (for verify-full).
	CACert []byte
}

// Server is a running throwaway database server.
type Server struct {
	Settings
	dir  string
	cmd  *exec.Cmd
	done chan error
	// admin runs statements as the server's superuser.
	admin func(ctx context.Context, stmt string) error
}

// Start starts a server of the given engine and stops it when tb ends. It fails tb with
// what to install when the server binaries are missing.
func Start(tb testing.TB, engine string) *Server {
	tb.Helper()
	s, err := StartServer(engine)
	if err != nil {
		tb.Fatalf("testdb: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// StartServer starts a server of the given engine; the caller must call Stop.
// Use it from TestMain to share one server across a package's tests.
func StartServer(engine string) (*Server, error) {
	var lastErr error
	// A free port can be taken by another package between the probe and the bind: retry.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startOnce(engine)
		if err == nil {
			return s, nil
		}
		var missing *MissingError
		if errors.As(err, &missing) {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(engine string) (*Server, error) {
	switch engine {
	case Postgres:
		return startPostgres()
	case MariaDB:
		return startMariaDB()
	default:
		return nil, fmt.Errorf("unknown engine %q", engine)
	}
}

// MissingError says which server binary is not installed and how to get it.
type MissingError struct{ What, Package string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s is not installed: run `make test` (it runs hack/test-deps.sh as root) or `sudo apt-get install -y %s`",
		e.What, e.Package)
}

// CreateDatabase creates an empty database on the server, owned by the test user.
// The name must be a plain identifier (letters, digits, underscores).
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	if !plainName.MatchString(name) {
		return fmt.Errorf("database name %q: use letters, digits and underscores", name)
	}
	if s.Engine == Postgres {
		return s.admin(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, s.User))
	}
	return s.admin(ctx, fmt.Sprintf("CREATE DATABASE %s", name))
}

// DropDatabase drops a database created by CreateDatabase.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if !plainName.MatchString(name) {
		return fmt.Errorf("database name %q: use letters, digits and underscores", name)
	}
	return s.admin(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s", name))
}

// Exec runs a statement as the server's superuser (for tests that need to, say,
// revoke a privilege or kill a connection).
func (s *Server) Exec(ctx context.Context, stmt string) error { return s.admin(ctx, stmt) }

var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// DSN returns a connection string for the database, for the engine's Go driver
// (pgx for PostgreSQL, go-sql-driver/mysql for MariaDB), without TLS.
func (s *Server) DSN(database string) string {
	if s.Engine == Postgres {
		return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", s.User, s.Password, s.Host, s.Port, database)
	}
	return fmt.Sprintf("%s:%s@tcp(%s:%d)/%s?parseTime=true&multiStatements=true", s.User, s.Password, s.Host, s.Port, database)
}

// Stop stops the server and removes its data directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		// PostgreSQL's fast shutdown is SIGINT; MariaDB shuts down on SIGTERM.
		sig := os.Signal(os.Interrupt)
		if s.Engine == MariaDB {
			sig = syscall.SIGTERM
		}
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	_ = os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts the server process and waits until ready() succeeds or the process exits.
func (s *Server) launch(cmd *exec.Cmd, logPath string, ready func(context.Context) error) error {
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	s.cmd = cmd
	s.done = make(chan error, 1)
	go func() { s.done <- cmd.Wait(); logFile.Close() }()

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			s.cmd = nil
			return fmt.Errorf("%s exited while starting (%v): %s", filepath.Base(cmd.Path), err, tail(logPath))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("%s did not become ready in 60s: %s", filepath.Base(cmd.Path), tail(logPath))
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

func ping(ctx context.Context, driver, dsn string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// StartServers starts servers of the given engines side by side (each takes a second or
// more) and returns them by engine. On error the servers that did start are returned too,
// so the caller can stop them with StopServers.
func StartServers(engines ...string) (map[string]*Server, error) {
	servers := make([]*Server, len(engines))
	errs := make([]error, len(engines))
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Go(func() { servers[i], errs[i] = StartServer(e) })
	}
	wg.Wait()
	started := map[string]*Server{}
	for i, s := range servers {
		if s != nil {
			started[engines[i]] = s
		}
		if errs[i] != nil {
			errs[i] = fmt.Errorf("starting %s: %w", engines[i], errs[i])
		}
	}
	return started, errors.Join(errs...)
}

// StopServers stops the servers side by side.
func StopServers(servers map[string]*Server) {
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(s.Stop)
	}
	wg.Wait()
}
