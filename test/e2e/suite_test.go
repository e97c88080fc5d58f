// Package e2e runs Lethe end to end: a real kube-apiserver and etcd (envtest), real
// PostgreSQL and MariaDB servers, the manager with its controllers, and the local job
// runner starting the real `lethe worker` binary for every Job.
package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/testdb"
	"github.com/lethe-operator/lethe/internal/testenv"
)

var (
	env      *testenv.Env
	postgres *testdb.Server
	mariadb  *testdb.Server
	binary   string
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	// The manager's logs go to stderr with LETHE_E2E_VERBOSE set; otherwise they are dropped
	// (shutdown between tests logs cancelled requests that say nothing about Lethe).
	logs := io.Discard
	if os.Getenv("LETHE_E2E_VERBOSE") != "" {
		logs = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logs)))
	var err error
	if repoRoot, err = testenv.RepoRoot(); err != nil {
		return fail(err)
	}
	if binary, err = lethebinary(); err != nil {
		return fail(err)
	}
	if env, err = testenv.StartEnv(); err != nil {
		return fail(err)
	}
	defer env.Stop()
	servers, err := testdb.StartServers(testdb.Postgres, testdb.MariaDB)
	defer testdb.StopServers(servers)
	if err != nil {
		return fail(err)
	}
	postgres, mariadb = servers[testdb.Postgres], servers[testdb.MariaDB]
	return m.Run()
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "e2e:", err)
	return 1
}

// lethebinary is the lethe binary the job runner starts: LETHE_BINARY (make test builds
// it), or one built now from this checkout.
func lethebinary() (string, error) {
	if b := os.Getenv("LETHE_BINARY"); b != "" {
		return b, nil
	}
	out := filepath.Join(os.TempDir(), fmt.Sprintf("lethe-e2e-%d", os.Getpid()))
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building lethe: %v\n%s", err, b)
	}
	return out, nil
}

// managerSetup tunes the manager one test runs; the zero value is the plain manager.
type managerSetup struct {
	// clock replaces the controllers' clock.
	clock clock.PassiveClock
	// operatorNamespace holds the operator's own objects (fingerprint key, register).
	operatorNamespace string
	// logs, when set, receives the manager's logs at the most verbose level and the
	// workers' output, so tests can search them.
	logs io.Writer
	// erasure tunes ErasureRequest batching.
	erasure controllers.ErasureOptions
	// jobs, when set, changes the worker Jobs' settings (retries are off by default).
	jobs func(*controllers.JobSettings)
}

// startManager runs the controllers with the local job runner until the test ends or
// stop is called.
func startManager(t *testing.T) (stop func()) {
	return runManager(t, managerSetup{})
}

// runManager runs the controllers as the setup says, with the local job runner.
func runManager(t *testing.T, s managerSetup) (stop func()) {
	t.Helper()
	opts := ctrl.Options{
		Scheme:     env.Scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	if s.logs != nil {
		opts.Logger = zap.New(zap.WriteTo(s.logs), zap.Level(zapcore.Level(-10)))
	}
	mgr, err := ctrl.NewManager(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	jobs := controllers.DefaultJobSettings()
	jobs.ActiveDeadlineSeconds = 120
	jobs.BackoffLimit = 0
	if s.jobs != nil {
		s.jobs(&jobs)
	}
	if err := controllers.Setup(mgr, controllers.Options{
		Jobs: jobs, LocalJobRunner: true, LocalJobRunnerBinary: binary, LocalJobRunnerOutput: s.logs,
		OperatorNamespace: s.operatorNamespace, Clock: s.clock, Erasure: s.erasure,
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// operatorNamespace creates the operator's namespace of one test, with the fingerprint
// key Secret unless withKey is false.
func operatorNamespace(t *testing.T, withKey bool) string {
	t.Helper()
	ns := newNamespace(t, "lethe-op")
	if withKey {
		key := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: controllers.DefaultFingerprintKeySecret, Namespace: ns},
			Data: map[string][]byte{"key": []byte("e2e-fingerprint-key-0123456789abcdef")}}
		if err := env.Client.Create(context.Background(), key); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// lockedBuffer collects logs written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// newDatabase creates a database on the server loaded with the booking sample schema.
func newDatabase(t *testing.T, s *testdb.Server, name string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
	driver, file := "pgx", "booking_postgres.sql"
	if s.Engine == testdb.MariaDB {
		driver, file = "mysql", "booking_mariadb.sql"
	}
	db, err := sql.Open(driver, s.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	schema, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(string(schema), ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("loading %s: %v\n%s", file, err, stmt)
		}
	}
	return db
}

// applySample creates a sample manifest from config/samples in the namespace, with edits
// to its spec.
func applySample(t *testing.T, file, namespace string, edit func(spec map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(namespace)
	if edit != nil {
		edit(obj.Object["spec"].(map[string]any))
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("applying %s: %v", file, err)
	}
}

// credentialsSecret creates the Secret with the server's login and its CA.
func credentialsSecret(t *testing.T, namespace, name string, s *testdb.Server) {
	t.Helper()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Data:       map[string][]byte{"username": []byte(s.User), "password": []byte(s.Password), "ca.crt": s.CACert},
	}
	if err := env.Client.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
}

// tenantDatabaseSpec points the sample TenantDatabase at a throwaway server, verifying
// its certificate.
func tenantDatabaseSpec(s *testdb.Server, database, secret string) func(map[string]any) {
	return func(spec map[string]any) {
		spec["engine"] = s.Engine
		spec["host"] = "localhost"
		spec["port"] = s.Port
		spec["database"] = database
		spec["credentialsSecretRef"] = map[string]any{"name": secret}
		spec["tls"] = map[string]any{"mode": "verify-full", "caSecretRef": map[string]any{"name": secret, "key": "ca.crt"}}
	}
}

func condition(g Gomega, obj client.Object, typ string) *metav1.Condition {
	g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	var conds []metav1.Condition
	switch o := obj.(type) {
	case interface{ GetConditions() []metav1.Condition }:
		conds = o.GetConditions()
	default:
		g.Expect(fmt.Errorf("%T has no conditions", obj)).NotTo(HaveOccurred())
	}
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

const eventually = 90 * time.Second
