package bench_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
	"github.com/lethe-operator/lethe/internal/testenv"
)

// Environment knobs, so the benchmark can be tried quickly:
//
//	LETHE_BENCH_REQUESTS   ErasureRequests filed at once (default 1,000)
//	LETHE_BENCH_DATABASES  TenantDatabases they are spread over (default 20)
//	LETHE_BENCH_WINDOW     the manager's --erasure-batch-window (default: the manager's)
//	LETHE_BENCH_JOBS       when set, the burst's erasure Jobs are listed one by one
//	LETHE_BINARY           the lethe binary (default: built by the benchmark)
const (
	requestsEnv  = "LETHE_BENCH_REQUESTS"
	databasesEnv = "LETHE_BENCH_DATABASES"
	windowEnv    = "LETHE_BENCH_WINDOW"
	jobsEnv      = "LETHE_BENCH_JOBS"
)

// The targets, printed beside the figures; nothing is asserted on them.
const (
	targetSeconds = 60
	targetJobs    = 40
	targetMiB     = 200
)

// customersPerDatabase is the booking sample's size (test/e2e/testdata/booking_postgres.sql).
const customersPerDatabase = 200

// completeTimeout bounds the wait for the requests; the figures so far are printed then.
const completeTimeout = 15 * time.Minute

// BenchmarkErasureBurst files LETHE_BENCH_REQUESTS ErasureRequests, each for its own
// customer, spread evenly over LETHE_BENCH_DATABASES TenantDatabases (databases of one
// PostgreSQL server, each loaded with the booking sample), all at once, and measures the
// time until every one is Complete, the Jobs the manager created and its peak RSS. The
// manager is the `lethe manager` binary in its own process with the local job runner.
func BenchmarkErasureBurst(b *testing.B) {
	nReq, nDB := envInt(b, requestsEnv, 1000), envInt(b, databasesEnv, 20)
	if nReq > nDB*customersPerDatabase {
		b.Fatalf("%s=%d: at most %d requests for %d databases of %d customers", requestsEnv, nReq,
			nDB*customersPerDatabase, nDB, customersPerDatabase)
	}
	dir := b.TempDir()
	bin := letheBinary(b, dir)
	env, err := testenv.StartEnv()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	srv, err := testdb.StartServer(testdb.Postgres)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()

	h := &burst{b: b, env: env, srv: srv, dir: dir, bin: bin, ns: "erasure-bench", opNS: "lethe-bench-system"}
	setupStart := time.Now()
	h.setup(nDB)
	mgr := h.startManager()
	defer mgr.stop()
	h.waitVerified(nDB)
	setup := time.Since(setupStart)

	var f burstFigures
	for i := 0; i < b.N; i++ {
		// With -benchtime 1x (make bench) this runs once: the burst is the measurement.
		if i > 0 {
			break
		}
		f = h.run(mgr, nReq, nDB)
	}
	b.StopTimer()
	f.peakKiB = max(f.peakKiB, mgr.stop())
	f.requests, f.databases, f.setup, f.window = nReq, nDB, setup, h.window
	f.left = h.identifiersLeft(nReq, nDB)
	f.states = h.targetStates()
	report(b, f)
	if f.complete < nReq {
		b.Errorf("%d of %d requests Complete after %v; the manager's log is %s", f.complete, nReq, completeTimeout, mgr.logPath)
		h.dumpUnfinished()
	}
	if f.left > 0 {
		b.Errorf("%d requested customers still have their email in the databases", f.left)
	}
	if done := f.states[string(privacyv1alpha1.TargetDone)]; done != nReq {
		b.Errorf("%d of %d requests' targets are Done (every requested customer exists): %v", done, nReq, f.states)
	}
}

// burst is the benchmark's cluster: envtest, one PostgreSQL server, the manager binary.
type burst struct {
	b        *testing.B
	env      *testenv.Env
	c        client.Client
	srv      *testdb.Server
	dir, bin string
	ns, opNS string
	window   string
}

// burstFigures are the measurements of one burst.
type burstFigures struct {
	requests, databases int
	window              string
	setup, create       time.Duration
	allComplete         time.Duration
	allFingerprinted    time.Duration // until every request had its fingerprint
	allInJob            time.Duration // until every request was in a started Job (0: not seen)
	lastJobActive       time.Duration // when an unfinished erasure Job was last seen
	complete            int
	jobs                map[string]int // plan kind → Jobs created during the burst
	verifyJobs          int            // schema verification Jobs before the burst
	erasureJobs         []jobFigures   // the burst's erasure Jobs, by creation
	peakKiB             int64
	left                int
	states              map[string]int // target state → requests, at the end
}

func databaseName(i int) string { return fmt.Sprintf("tenant-%02d", i) }

// email is request r's customer: customer r/nDB+1 of database r%nDB, whose email the
// setup made unique across databases.
func email(r, nDB int) (db int, customer int, addr string) {
	db, customer = r%nDB, r/nDB+1
	return db, customer, fmt.Sprintf("t%02d.guest%d@mail.example", db, customer)
}

// setup creates the namespaces, the fingerprint key, the DataMap, and nDB databases with
// the booking sample and their TenantDatabases.
func (h *burst) setup(nDB int) {
	b, ctx := h.b, context.Background()
	var err error
	if h.c, err = client.New(h.env.Config, client.Options{Scheme: h.env.Scheme}); err != nil {
		b.Fatal(err)
	}
	for _, ns := range []string{h.ns, h.opNS} {
		must(b, h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	must(b, h.c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: controllers.DefaultFingerprintKeySecret, Namespace: h.opNS},
		Data:       map[string][]byte{"key": []byte("bench-fingerprint-key-0123456789abcdef")},
	}))
	h.applySample("privacy_v1alpha1_datamap.yaml")
	must(b, h.c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "booking-login", Namespace: h.ns},
		Data: map[string][]byte{"username": []byte(h.srv.User), "password": []byte(h.srv.Password),
			"ca.crt": h.srv.CACert},
	}))
	root, err := testenv.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join(root, "test", "e2e", "testdata", "booking_postgres.sql"))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < nDB; i++ {
		name := databaseName(i)
		sqlName := strings.ReplaceAll(name, "-", "_")
		must(b, h.srv.CreateDatabase(ctx, sqlName))
		db := h.open(sqlName)
		for _, stmt := range strings.Split(string(schema), ";\n") {
			if strings.TrimSpace(stmt) != "" {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					b.Fatalf("loading the booking sample into %s: %v", sqlName, err)
				}
			}
		}
		// Every customer of every tenant gets an email of their own.
		if _, err := db.ExecContext(ctx, fmt.Sprintf("UPDATE customers SET email = 't%02d.' || email", i)); err != nil {
			b.Fatal(err)
		}
		db.Close()
		must(b, h.c.Create(ctx, &privacyv1alpha1.TenantDatabase{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns, Labels: map[string]string{"tenant": name}},
			Spec: privacyv1alpha1.TenantDatabaseSpec{
				Engine: privacyv1alpha1.Engine(h.srv.Engine), Host: "localhost", Port: int32(h.srv.Port), Database: sqlName,
				CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: "booking-login"},
				TLS: &privacyv1alpha1.DatabaseTLS{Mode: privacyv1alpha1.TLSVerifyFull,
					CASecretRef: &privacyv1alpha1.SecretKeyRef{Name: "booking-login", Key: "ca.crt"}},
				DataMapRef: "booking-app",
			},
		}))
	}
}

func (h *burst) open(sqlName string) *sql.DB {
	db, err := sql.Open("pgx", h.srv.DSN(sqlName))
	if err != nil {
		h.b.Fatal(err)
	}
	return db
}

func (h *burst) applySample(file string) {
	root, err := testenv.RepoRoot()
	if err != nil {
		h.b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "config", "samples", file))
	if err != nil {
		h.b.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	must(h.b, yaml.Unmarshal(raw, &obj.Object))
	obj.SetNamespace(h.ns)
	must(h.b, h.c.Create(context.Background(), obj))
}

// manager is the `lethe manager` process.
type manager struct {
	cmd     *exec.Cmd
	logPath string
	once    sync.Once
	peakKiB int64
	done    chan struct{}
}

// startManager runs `lethe manager` with the local job runner, talking to envtest as a
// system:masters user through a kubeconfig file.
func (h *burst) startManager() *manager {
	b := h.b
	user, err := h.env.Environment.AddUser(envtest.User{Name: "lethe-bench-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		b.Fatal(err)
	}
	kcPath := filepath.Join(h.dir, "kubeconfig")
	must(b, os.WriteFile(kcPath, kubeconfig, 0o600))
	args := []string{"manager", "--local-job-runner", "--local-job-runner-binary", h.bin, "--namespace", h.opNS,
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0"}
	h.window = "default"
	if w := os.Getenv(windowEnv); w != "" {
		if _, err := time.ParseDuration(w); err != nil {
			b.Fatalf("%s=%q: %v", windowEnv, w, err)
		}
		args = append(args, "--erasure-batch-window", w)
		h.window = w
	}
	m := &manager{logPath: filepath.Join(os.TempDir(), fmt.Sprintf("lethe-bench-manager-%d.log", os.Getpid())), done: make(chan struct{})}
	logFile, err := os.Create(m.logPath)
	if err != nil {
		b.Fatal(err)
	}
	m.cmd = exec.Command(h.bin, args...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kcPath)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		b.Fatalf("starting lethe manager: %v", err)
	}
	go func() {
		_ = m.cmd.Wait()
		logFile.Close()
		close(m.done)
	}()
	return m
}

// sample records the process's peak RSS so far (VmHWM, KiB).
func (m *manager) sample() {
	if kib := vmHWM(m.cmd.Process.Pid); kib > m.peakKiB {
		m.peakKiB = kib
	}
}

func (m *manager) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// stop reads the peak RSS, stops the manager with SIGTERM (SIGKILL after 30s) and
// returns the peak in KiB, the larger of VmHWM and the rusage after exit.
func (m *manager) stop() int64 {
	m.once.Do(func() {
		if !m.exited() {
			m.sample()
			_ = m.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-m.done:
			case <-time.After(30 * time.Second):
				_ = m.cmd.Process.Kill()
				<-m.done
			}
		}
		if ru, ok := m.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.peakKiB = max(m.peakKiB, ru.Maxrss)
		}
	})
	return m.peakKiB
}

// vmHWM is the VmHWM line of /proc/<pid>/status in KiB (0 when unreadable).
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// waitVerified waits until every TenantDatabase's schema is verified.
func (h *burst) waitVerified(nDB int) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		list := &privacyv1alpha1.TenantDatabaseList{}
		must(h.b, h.c.List(context.Background(), list, client.InNamespace(h.ns)))
		verified := 0
		var pending []string
		for _, tdb := range list.Items {
			if c := findCondition(tdb.Status.Conditions, privacyv1alpha1.ConditionSchemaVerified); c != nil && c.Status == metav1.ConditionTrue {
				verified++
			} else if c != nil {
				pending = append(pending, tdb.Name+": "+c.Reason+": "+c.Message)
			}
		}
		if verified == nDB {
			return
		}
		if time.Now().After(deadline) {
			h.b.Fatalf("%d of %d TenantDatabases verified after 5m: %s", verified, nDB, strings.Join(pending, "; "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// run files the requests at once and waits until all are Complete.
func (h *burst) run(mgr *manager, nReq, nDB int) burstFigures {
	b, ctx := h.b, context.Background()
	jobsBefore := h.jobsByKind()
	b.ResetTimer()
	start := time.Now()
	work := make(chan int)
	errs := make(chan error, nReq)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				errs <- h.file(ctx, r, nDB)
			}
		}()
	}
	for r := 0; r < nReq; r++ {
		work <- r
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatalf("filing the requests: %v", err)
		}
	}
	f := burstFigures{create: time.Since(start)}
	deadline := start.Add(completeTimeout)
	for {
		mgr.sample()
		list := &privacyv1alpha1.ErasureRequestList{}
		must(b, h.c.List(ctx, list, client.InNamespace(h.ns)))
		f.complete = 0
		fingerprinted, inJob := 0, 0
		for _, er := range list.Items {
			if c := findCondition(er.Status.Conditions, privacyv1alpha1.ConditionComplete); c != nil && c.Status == metav1.ConditionTrue {
				f.complete++
			}
			if er.Status.SubjectFingerprint != "" {
				fingerprinted++
			}
			if len(er.Status.Targets) > 0 && (er.Status.Targets[0].Job != "" || er.Status.Targets[0].State == privacyv1alpha1.TargetDone) {
				inJob++
			}
		}
		if h.erasureJobsActive() {
			f.lastJobActive = time.Since(start)
		}
		if fingerprinted == nReq && f.allFingerprinted == 0 {
			f.allFingerprinted = time.Since(start)
		}
		if inJob == nReq && f.allInJob == 0 {
			f.allInJob = time.Since(start)
		}
		if f.complete == nReq {
			f.allComplete = time.Since(start)
			break
		}
		if time.Now().After(deadline) || mgr.exited() {
			f.allComplete = time.Since(start)
			if mgr.exited() {
				b.Errorf("the manager exited; its log is %s", mgr.logPath)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.StopTimer()
	mgr.sample()
	f.peakKiB = mgr.peakKiB
	f.jobs = h.jobsByKind()
	for kind, n := range jobsBefore {
		if f.jobs[kind] -= n; f.jobs[kind] == 0 {
			delete(f.jobs, kind)
		}
	}
	f.verifyJobs = jobsBefore[string(plan.KindVerify)]
	f.erasureJobs = h.erasureJobFigures(start)
	return f
}

// jobFigures is one erasure Job of the burst: when it was created and ran, relative to
// the burst's start, and how many requests it covered.
type jobFigures struct {
	name                    string
	database                string
	created, started, ended time.Duration
	requests                int
}

// erasureJobFigures lists the namespace's erasure Jobs created since start, oldest first.
func (h *burst) erasureJobFigures(start time.Time) []jobFigures {
	jobs := &batchv1.JobList{}
	must(h.b, h.c.List(context.Background(), jobs, client.InNamespace(h.ns),
		client.MatchingLabels{controllers.LabelPlanKind: string(plan.KindErasure)}))
	var out []jobFigures
	for _, j := range jobs.Items {
		if j.CreationTimestamp.Time.Before(start.Truncate(time.Second)) {
			continue
		}
		f := jobFigures{name: j.Name, database: j.Labels[controllers.LabelDatabase],
			created:  j.CreationTimestamp.Sub(start),
			requests: len(strings.Split(j.Annotations[controllers.AnnotationRequests], ","))}
		if t := j.Status.StartTime; t != nil {
			f.started = t.Sub(start)
		}
		if t := j.Status.CompletionTime; t != nil {
			f.ended = t.Sub(start)
		} else {
			for _, c := range j.Status.Conditions {
				if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
					f.ended = c.LastTransitionTime.Sub(start)
				}
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].created != out[j].created {
			return out[i].created < out[j].created
		}
		return out[i].name < out[j].name
	})
	return out
}

// file creates request r's Secret, holding its customer's email, and the ErasureRequest
// selecting that customer's database.
func (h *burst) file(ctx context.Context, r, nDB int) error {
	db, _, addr := email(r, nDB)
	name := fmt.Sprintf("req-%04d", r)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-subject", Namespace: h.ns},
		Data: map[string][]byte{"value": []byte(addr)}}
	if err := h.c.Create(ctx, secret); err != nil {
		return err
	}
	return h.c.Create(ctx, &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: privacyv1alpha1.ErasureRequestSpec{
			Subject:          privacyv1alpha1.ErasureSubject{Type: "email", SecretRef: privacyv1alpha1.SecretKeyRef{Name: secret.Name, Key: "value"}},
			DatabaseSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": databaseName(db)}},
		},
	})
}

// jobsByKind counts the namespace's Jobs by plan kind.
func (h *burst) jobsByKind() map[string]int {
	jobs := &batchv1.JobList{}
	must(h.b, h.c.List(context.Background(), jobs, client.InNamespace(h.ns)))
	out := map[string]int{}
	for _, j := range jobs.Items {
		out[j.Labels[controllers.LabelPlanKind]]++
	}
	return out
}

// erasureJobsActive says whether an erasure Job of the namespace is unfinished.
func (h *burst) erasureJobsActive() bool {
	jobs := &batchv1.JobList{}
	must(h.b, h.c.List(context.Background(), jobs, client.InNamespace(h.ns),
		client.MatchingLabels{controllers.LabelPlanKind: string(plan.KindErasure)}))
	for _, j := range jobs.Items {
		finished := false
		for _, c := range j.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				finished = true
			}
		}
		if !finished {
			return true
		}
	}
	return false
}

// identifiersLeft counts the requested customers whose email is still in their database.
func (h *burst) identifiersLeft(nReq, nDB int) int {
	perDB := map[int][]string{}
	for r := 0; r < nReq; r++ {
		db, _, addr := email(r, nDB)
		perDB[db] = append(perDB[db], addr)
	}
	left := 0
	for i, addrs := range perDB {
		db := h.open(strings.ReplaceAll(databaseName(i), "-", "_"))
		var n int
		if err := db.QueryRow("SELECT count(*) FROM customers WHERE email = ANY($1)", addrs).Scan(&n); err != nil {
			h.b.Errorf("counting in %s: %v", databaseName(i), err)
		}
		db.Close()
		left += n
	}
	return left
}

// targetStates counts the requests' targets by state. Every requested customer exists,
// so each target should end Done: NotFound means the receipt lost what was erased.
func (h *burst) targetStates() map[string]int {
	list := &privacyv1alpha1.ErasureRequestList{}
	must(h.b, h.c.List(context.Background(), list, client.InNamespace(h.ns)))
	out := map[string]int{}
	for _, er := range list.Items {
		for _, t := range er.Status.Targets {
			out[string(t.State)]++
		}
	}
	return out
}

// dumpUnfinished logs a few unfinished requests' conditions.
func (h *burst) dumpUnfinished() {
	list := &privacyv1alpha1.ErasureRequestList{}
	if err := h.c.List(context.Background(), list, client.InNamespace(h.ns)); err != nil {
		return
	}
	shown := 0
	for _, er := range list.Items {
		if c := findCondition(er.Status.Conditions, privacyv1alpha1.ConditionComplete); c != nil && c.Status == metav1.ConditionTrue {
			continue
		}
		if shown++; shown > 5 {
			break
		}
		h.b.Logf("%s: phase %s, databases %s, targets %+v, conditions %+v", er.Name, er.Status.Phase, er.Status.Databases,
			er.Status.Targets, er.Status.Conditions)
	}
}

// report prints the figures beside the targets and as benchmark metrics; it
// asserts nothing on them.
func report(b *testing.B, f burstFigures) {
	total := 0
	var kinds []string
	for kind, n := range f.jobs {
		total += n
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	mib := float64(f.peakKiB) / 1024
	b.ReportMetric(f.allComplete.Seconds(), "s-to-all-complete")
	b.ReportMetric(float64(total), "jobs")
	b.ReportMetric(mib, "manager-peak-MiB")
	var out strings.Builder
	fmt.Fprintf(&out, "\nErasureRequest burst: %d requests across %d TenantDatabases (one PostgreSQL server), batch window %s\n",
		f.requests, f.databases, f.window)
	fmt.Fprintf(&out, "  setup (databases, schema verification)  %v\n", f.setup.Round(time.Millisecond))
	fmt.Fprintf(&out, "  filing the requests and their Secrets    %v\n", f.create.Round(time.Millisecond))
	fmt.Fprintf(&out, "  time until all Complete  %8.1f s    target <= %d s   (%d of %d Complete)\n",
		f.allComplete.Seconds(), targetSeconds, f.complete, f.requests)
	fmt.Fprintf(&out, "      all fingerprinted after %.1f s, all in a started Job after %.1f s (sampled every 200ms)\n",
		f.allFingerprinted.Seconds(), f.allInJob.Seconds())
	fmt.Fprintf(&out, "      an erasure Job was last seen unfinished after %.1f s\n", f.lastJobActive.Seconds())
	fmt.Fprintf(&out, "  Jobs created by the burst %7d      target <= %d\n", total, targetJobs)
	for _, kind := range kinds {
		fmt.Fprintf(&out, "      %-21s %d\n", kind, f.jobs[kind])
	}
	fmt.Fprintf(&out, "  (and %d schema verification Jobs before the burst, one per TenantDatabase)\n", f.verifyJobs)
	if len(f.erasureJobs) > 0 {
		var runs []time.Duration
		var sizes []int
		perDB := map[string]int{}
		for _, j := range f.erasureJobs {
			if j.ended > 0 {
				runs = append(runs, j.ended-j.started)
			}
			sizes = append(sizes, j.requests)
			perDB[j.database]++
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
		sort.Ints(sizes)
		maxPerDB := 0
		for _, n := range perDB {
			maxPerDB = max(maxPerDB, n)
		}
		fmt.Fprintf(&out, "      erasure Jobs: created from %.1f s to %.1f s; up to %d per database; requests per Job %d..%d\n",
			f.erasureJobs[0].created.Seconds(), f.erasureJobs[len(f.erasureJobs)-1].created.Seconds(), maxPerDB, sizes[0], sizes[len(sizes)-1])
		if len(runs) > 0 {
			fmt.Fprintf(&out, "      erasure Job run time (start to finish, second resolution): median %.0f s, max %.0f s\n",
				runs[len(runs)/2].Seconds(), runs[len(runs)-1].Seconds())
		}
		if os.Getenv(jobsEnv) != "" {
			for _, j := range f.erasureJobs {
				fmt.Fprintf(&out, "        %-32s %-10s created %5.1f s  started %5.1f s  ended %5.1f s  %3d request(s)\n",
					j.name, j.database, j.created.Seconds(), j.started.Seconds(), j.ended.Seconds(), j.requests)
			}
		}
	}
	fmt.Fprintf(&out, "  manager peak RSS          %7.1f MiB  target <= %d MiB\n", mib, targetMiB)
	fmt.Fprintf(&out, "  requested customers whose email is left: %d\n", f.left)
	var states []string
	for st, n := range f.states {
		states = append(states, fmt.Sprintf("%s %d", st, n))
	}
	sort.Strings(states)
	fmt.Fprintf(&out, "  requests' database targets by state: %s (every customer exists: all should be Done)\n", strings.Join(states, ", "))
	fmt.Print(out.String())
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// letheBinary returns LETHE_BINARY (set by `make bench`) or builds the binary.
func letheBinary(b *testing.B, dir string) string {
	if p := os.Getenv("LETHE_BINARY"); p != "" {
		return p
	}
	out := filepath.Join(dir, "lethe")
	if msg, err := exec.Command("go", "build", "-o", out, "github.com/lethe-operator/lethe").CombinedOutput(); err != nil {
		b.Fatalf("go build lethe (or set LETHE_BINARY): %v\n%s", err, msg)
	}
	return out
}
