package draft_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lethe-operator/lethe/internal/draft"
	"github.com/lethe-operator/lethe/internal/testdb"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// lethe returns the binary `make test` built (LETHE_BINARY), or builds one.
func lethe(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binary = os.Getenv("LETHE_BINARY"); binary != "" {
			return
		}
		dir, err := os.MkdirTemp("", "lethe-draft-test-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "lethe")
		if out, err := exec.Command("go", "build", "-o", binary, "github.com/lethe-operator/lethe").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// run runs `lethe datamap ARGS` with the environment and returns stdout, stderr and the
// exit code.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(lethe(t), append([]string{"datamap"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

// dsn is the URL of the test database, verifying the server's certificate.
func (d *database) dsn(scheme string, withPassword bool) string {
	u := url.URL{Scheme: scheme, Host: fmt.Sprintf("%s:%d", d.plan.Host, d.plan.Port), Path: "/" + d.plan.Name,
		RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {d.plan.TLS.CAFile}}.Encode()}
	u.User = url.User(d.target.User)
	if withPassword {
		u.User = url.UserPassword(d.target.User, d.target.Password)
	}
	return u.String()
}

// `lethe datamap draft` prints the draft of the database the DSN names; the password,
// from the DSN or its own variable, is never printed.
func TestDraftCommand(t *testing.T) {
	for _, tc := range []struct {
		engine, scheme string
		dsnInEnv       bool
	}{
		{testdb.Postgres, "postgres", true},
		{testdb.MariaDB, "mariadb", false},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			t.Parallel()
			db := newDatabase(t, tc.engine, testdb.ShopSchema(tc.engine))
			password := db.target.Password
			var env, args []string
			if tc.dsnInEnv {
				env = []string{"LETHE_DSN=" + db.dsn(tc.scheme, true)}
			} else {
				env = []string{"LETHE_DB_PASSWORD=" + password}
				args = []string{"--dsn", db.dsn(tc.scheme, false)}
			}
			stdout, stderr, code := run(t, env, append([]string{"draft", "--namespace", "shop-eu"}, args...)...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			dm := parse(t, []byte(stdout))
			if want := strings.ReplaceAll(db.plan.Name, "_", "-"); dm.Name != want || dm.Namespace != "shop-eu" {
				t.Errorf("metadata = %s/%s, want shop-eu/%s", dm.Namespace, dm.Name, want)
			}
			if _, ok := tables(t, []byte(stdout))["customers"]; !ok {
				t.Errorf("the printed draft has no customers table:\n%s", stdout)
			}
			if want := string(db.draftNamed(dm.Name, "shop-eu")); stdout != want {
				t.Errorf("the command printed another draft than the library drafts")
			}
			if strings.Contains(stdout+stderr, password) {
				t.Error("the password was printed")
			}

			// A wrong password: a clear error, and neither password printed.
			wrong := db.dsn(tc.scheme, false)
			wrong = strings.Replace(wrong, db.target.User+"@", db.target.User+":not-"+password+"@", 1)
			stdout, stderr, code = run(t, nil, "draft", "--dsn", wrong)
			if code != 1 || stdout != "" || !strings.Contains(stderr, "AuthenticationFailed") {
				t.Errorf("wrong password: exit %d, stdout %q, stderr %q; want exit 1 and AuthenticationFailed", code, stdout, stderr)
			}
			if strings.Contains(stderr, password) {
				t.Errorf("the error prints the password: %s", stderr)
			}
		})
	}
}

func (d *database) draftNamed(name, namespace string) []byte {
	d.t.Helper()
	doc, err := draft.FromDatabase(context.Background(), d.target, draft.Options{Name: name, Namespace: namespace})
	if err != nil {
		d.t.Fatal(err)
	}
	return doc
}

// Help exits 0; a DSN the command cannot read is refused without echoing it.
func TestDraftCommandRefusesBadInput(t *testing.T) {
	stdout, _, code := run(t, nil, "draft", "-h")
	if code != 0 || !strings.Contains(stdout, "usage: lethe datamap draft") {
		t.Errorf("draft -h: exit %d, stdout %q", code, stdout)
	}
	if _, _, code := run(t, nil, "-h"); code != 0 {
		t.Errorf("datamap -h: exit %d", code)
	}
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://admin:s3cr3t-pw@[::1/shop", "not a URL"},
		{"oracle://admin:s3cr3t-pw@db:1521/shop", `scheme "oracle"`},
		{"postgres://admin:s3cr3t-pw@db:5432", "names no database"},
		{"postgres://admin:s3cr3t-pw@db:5432/shop?sslmode=allow", `sslmode "allow"`},
		{"", "no database"},
	} {
		stdout, stderr, code := run(t, []string{"LETHE_DSN="}, "draft", "--dsn", tc.dsn)
		if code != 2 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tc.dsn, code, stderr, tc.want)
		}
		if strings.Contains(stderr, "s3cr3t-pw") {
			t.Errorf("%q: the error echoes the password: %s", tc.dsn, stderr)
		}
	}
}

// The DSN's scheme says the engine; its parts fill the connection settings.
func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn, engine, host, name, user, password, tls string
		port                                         int
	}{
		{"postgres://app:pw@db.internal/shop", "postgres", "db.internal", "shop", "app", "pw", "", 0},
		{"postgresql://app@db:6432/shop?sslmode=disable", "postgres", "db", "shop", "app", "from-env", "disable", 6432},
		{"mysql://app:p%40ss@10.0.0.5:3306/shop?sslmode=verify-full", "mysql", "10.0.0.5", "shop", "app", "p@ss", "verify-full", 3306},
		{"mariadb://app:pw@db/shop", "mariadb", "db", "shop", "app", "pw", "", 0},
	} {
		got, err := draft.ParseDSN(tc.dsn, "from-env")
		if err != nil {
			t.Errorf("%s: %v", tc.dsn, err)
			continue
		}
		d := got.Database
		if d.Engine != tc.engine || d.Host != tc.host || d.Port != tc.port || d.Name != tc.name ||
			got.User != tc.user || got.Password != tc.password || d.TLS.Mode != tc.tls {
			t.Errorf("%s: got %+v", tc.dsn, got)
		}
	}
}
