package draft

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/plan"
)

// Environment variables `lethe datamap draft` reads: a DSN there stays out of the shell
// history and the process list.
const (
	EnvDSN      = "LETHE_DSN"
	EnvPassword = "LETHE_DB_PASSWORD"
)

const commandUsage = `usage: lethe datamap draft [--dsn DSN] [--name NAME] [--namespace NAMESPACE]

Reads the catalog of a database (names, types and keys, never a row) and prints a
proposed DataMap as YAML on standard output. Guesses are marked with "# guess:".

The DSN is a URL; its scheme says the engine:
  postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require
  mysql://USER:PASSWORD@HOST:3306/DATABASE?sslmode=verify-full&sslrootcert=ca.pem
  (postgresql:// and mariadb:// too). sslmode is disable, require (the default) or
  verify-full; sslrootcert is the CA file verify-full checks the server against.
Give it in $LETHE_DSN rather than --dsn to keep it out of the process list; a DSN
without a password takes it from $LETHE_DB_PASSWORD. The password is never printed.

flags:`

// Main runs `lethe datamap ARGS` and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "draft" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, commandUsage)
			return 0
		}
		fmt.Fprintln(stderr, commandUsage)
		return 2
	}
	fs := flag.NewFlagSet("datamap draft", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The flag package prints its error itself; usage goes to stdout for -h (exit 0) and
	// to stderr after a wrong flag.
	fs.Usage = func() {}
	usage := func(w io.Writer) {
		fmt.Fprintln(w, commandUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	dsn := fs.String("dsn", "", "the database to draft from, as a URL (default $"+EnvDSN+")")
	name := fs.String("name", "", "the DataMap's metadata.name (default: the database's name)")
	namespace := fs.String("namespace", "", "the DataMap's metadata.namespace (default: none)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return 2
	}
	if *dsn == "" {
		*dsn = os.Getenv(EnvDSN)
	}
	target, err := ParseDSN(*dsn, os.Getenv(EnvPassword))
	if err != nil {
		fmt.Fprintf(stderr, "lethe datamap draft: %v\n", err)
		return 2
	}
	if *name == "" {
		*name = dataMapName(target.Database.Name)
	}
	doc, err := FromDatabase(ctx, target, Options{Name: *name, Namespace: *namespace})
	if err != nil {
		fmt.Fprintf(stderr, "lethe datamap draft: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(doc); err != nil {
		return 1
	}
	return 0
}

// Target is a database and the login to reach it with.
type Target struct {
	Database plan.Database
	User     string
	Password string
}

// FromDatabase connects, reads the catalog and returns the drafted DataMap's YAML.
func FromDatabase(ctx context.Context, t Target, opts Options) ([]byte, error) {
	eng, err := engine.OpenWithLogin(ctx, t.Database, t.User, t.Password, engine.Timeouts{})
	if err != nil {
		return nil, describeError(err)
	}
	defer eng.Close()
	cat, err := eng.Catalog(ctx)
	if err != nil {
		return nil, describeError(err)
	}
	if opts.Source == "" {
		opts.Source = fmt.Sprintf("database %q (%s)", t.Database.Name, t.Database.Engine)
	}
	return Build(cat, opts).YAML(), nil
}

// describeError is the engine's message, which names the server but never the login.
func describeError(err error) error {
	e := engine.AsError(err)
	return fmt.Errorf("%s: %s", e.Code, e.Message)
}

// ParseDSN reads a DSN URL. Its errors never quote the DSN, which holds the password.
func ParseDSN(dsn, password string) (Target, error) {
	var t Target
	if dsn == "" {
		return t, fmt.Errorf("no database: give --dsn or $%s, e.g. postgres://USER@HOST:5432/DATABASE", EnvDSN)
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return t, errors.New("the DSN is not a URL such as postgres://USER:PASSWORD@HOST:5432/DATABASE (special characters in the password must be %-encoded)")
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		t.Database.Engine = engine.Postgres
	case "mysql":
		t.Database.Engine = engine.MySQL
	case "mariadb":
		t.Database.Engine = engine.MariaDB
	default:
		return t, fmt.Errorf("the DSN's scheme %q is not postgres://, postgresql://, mysql:// or mariadb://", u.Scheme)
	}
	t.Database.Host = u.Hostname()
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return t, errors.New("the DSN's port is not a number between 1 and 65535")
		}
		t.Database.Port = port
	}
	t.Database.Name = strings.TrimPrefix(u.Path, "/")
	if t.Database.Name == "" || strings.Contains(t.Database.Name, "/") {
		return t, errors.New("the DSN names no database: end it with /DATABASE")
	}
	if u.User == nil || u.User.Username() == "" {
		return t, errors.New("the DSN names no user: write USER@ before the host")
	}
	t.User = u.User.Username()
	t.Password = password
	if p, ok := u.User.Password(); ok {
		t.Password = p
	}
	q := u.Query()
	t.Database.TLS = plan.TLS{Mode: q.Get("sslmode"), CAFile: q.Get("sslrootcert")}
	switch t.Database.TLS.Mode {
	case "", plan.TLSDisable, plan.TLSRequire, plan.TLSVerifyFull:
	default:
		return t, fmt.Errorf("sslmode %q is not disable, require or verify-full", t.Database.TLS.Mode)
	}
	return t, nil
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dataMapName turns a database name into a DataMap name (a DNS label): shop_eu → shop-eu.
func dataMapName(database string) string {
	n := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(database), "-"), "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	if n == "" {
		return "drafted"
	}
	return n
}
