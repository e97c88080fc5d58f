package testdb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPostgresAnswersQueriesOverPasswordLogin(t *testing.T) {
	t.Parallel()
	s := Start(t, Postgres)
	db, err := sql.Open("pgx", s.DSN(s.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var who string
	if err := db.QueryRow("SELECT current_user").Scan(&who); err != nil {
		t.Fatalf("query: %v", err)
	}
	if who != s.User {
		t.Fatalf("current_user = %q, want %q", who, s.User)
	}
}

func TestPostgresServesTLSSignedByTheCA(t *testing.T) {
	t.Parallel()
	s := Start(t, Postgres)
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s:%s@localhost:%d/%s?sslmode=verify-full",
		s.User, s.Password, s.Port, s.Database))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACert)
	cfg.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	defer conn.Close(context.Background())
	var ssl bool
	if err := conn.QueryRow(context.Background(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	if !ssl {
		t.Fatal("connection is not encrypted")
	}
}

func TestMariaDBAnswersQueriesAndCreatesDatabases(t *testing.T) {
	t.Parallel()
	s := Start(t, MariaDB)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "tenant_a"); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", s.DSN("tenant_a"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version, database string
	if err := db.QueryRow("SELECT VERSION(), DATABASE()").Scan(&version, &database); err != nil {
		t.Fatalf("query: %v", err)
	}
	if database != "tenant_a" {
		t.Fatalf("DATABASE() = %q, want tenant_a", database)
	}
	t.Logf("MariaDB %s", version)
}

func TestCreateDatabaseRefusesNamesThatAreNotPlain(t *testing.T) {
	s := &Server{Settings: Settings{Engine: Postgres}, admin: func(context.Context, string) error {
		t.Fatal("a statement was run")
		return nil
	}}
	if err := s.CreateDatabase(context.Background(), "x; DROP DATABASE lethe"); err == nil {
		t.Fatal("want an error for a name with a statement in it")
	}
}
