package draft_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/draft"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
	"github.com/lethe-operator/lethe/internal/worker"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

var (
	servers   map[string]*testdb.Server
	engines   = []string{testdb.Postgres, testdb.MariaDB}
	dbCounter atomic.Int64
)

func TestMain(m *testing.M) {
	started, err := testdb.StartServers(engines...)
	if err != nil {
		testdb.StopServers(started)
		fmt.Fprintln(os.Stderr, "draft tests:", err)
		os.Exit(1)
	}
	servers = started
	code := m.Run()
	testdb.StopServers(started)
	os.Exit(code)
}

// database is one test database: how the worker reaches it (login in files, like
// mounted Secrets) and how a workstation does (the login itself).
type database struct {
	t      *testing.T
	engine string
	plan   plan.Database
	target draft.Target
	dir    string
}

// newDatabase creates a database on the engine's server with the schema's statements.
func newDatabase(t *testing.T, engine string, schema []string) *database {
	t.Helper()
	s := servers[engine]
	name := fmt.Sprintf("d%d_%d", os.Getpid(), dbCounter.Add(1))
	if err := s.CreateDatabase(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DropDatabase(context.Background(), name) })
	driver := "pgx"
	if engine == testdb.MariaDB {
		driver = "mysql"
	}
	conn, err := sql.Open(driver, s.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range schema {
		if _, err := conn.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	d := &database{t: t, engine: engine, dir: t.TempDir()}
	tls := plan.TLS{Mode: plan.TLSVerifyFull, CAFile: d.file("ca.crt", string(s.CACert)), ServerName: "localhost"}
	d.plan = plan.Database{Engine: engine, Host: s.Host, Port: s.Port, Name: name, TLS: tls,
		UsernameFile: d.file("username", s.User), PasswordFile: d.file("password", s.Password)}
	d.target = draft.Target{Database: d.plan, User: s.User, Password: s.Password}
	d.target.Database.UsernameFile, d.target.Database.PasswordFile = "", ""
	return d
}

func (d *database) file(name, content string) string {
	d.t.Helper()
	p := filepath.Join(d.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		d.t.Fatal(err)
	}
	return p
}

// draft drafts the database's DataMap as `lethe datamap draft` does.
func (d *database) draft() []byte {
	d.t.Helper()
	doc, err := draft.FromDatabase(context.Background(), d.target, draft.Options{Name: "shop"})
	if err != nil {
		d.t.Fatal(err)
	}
	return doc
}

// verify runs Lethe's own verify plan with the DataMap against the database.
func (d *database) verify(dm *privacyv1alpha1.DataMap) plan.Report {
	d.t.Helper()
	p := plan.Plan{Kind: plan.KindVerify, Database: d.plan, DataMap: controllers.DataMapPlan(dm),
		Options: plan.Options{HashKeyFile: d.file("hash.key", "draft-test-key")}}
	var log strings.Builder
	return worker.Run(context.Background(), p, &log)
}

// parse reads a draft as the API server would get it from kubectl (YAML 1.1, strict).
func parse(t *testing.T, doc []byte) *privacyv1alpha1.DataMap {
	t.Helper()
	dm := &privacyv1alpha1.DataMap{}
	if err := sigsyaml.UnmarshalStrict(doc, dm); err != nil {
		t.Fatalf("the draft is not a DataMap: %v\n%s", err, doc)
	}
	return dm
}

// commentedNodes reads the draft's YAML tree, comments included.
func commentedNodes(t *testing.T, doc []byte) *yaml.Node {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	return root.Content[0]
}

// field returns the value of key in a mapping node.
func field(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
