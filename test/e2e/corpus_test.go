package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// The bad-manifest corpus (test/corpus, see its README) is data: one file per case, each
// a case description followed by the manifests to apply and what must become of them.

// corpusCase is the first document of a case file.
type corpusCase struct {
	// Description says what the case is, as a user would put it.
	Description string `json:"description"`
	// Database, when set, is a throwaway database the manifests can point at.
	Database *corpusDatabase `json:"database,omitempty"`
	Expect   corpusExpect    `json:"expect"`
}

// corpusDatabase is a throwaway database loaded with a fixture.
type corpusDatabase struct {
	// Engine is postgres or mariadb.
	Engine string `json:"engine"`
	// Fixture is the data loaded into it: booking (customers, accounts, bookings,
	// invoices, support tickets, contact requests over ten years).
	Fixture string `json:"fixture"`
	// Customers is the fixture's size (default 200).
	Customers int `json:"customers,omitempty"`
	// Objects also creates the fixture's DataMap (booking-app) and a TenantDatabase
	// (booking-db, labelled app: booking) pointing at the database.
	Objects bool `json:"objects,omitempty"`
}

// corpusExpect is what must happen; every expectation given is checked.
type corpusExpect struct {
	// Refused: the API server refuses the last manifest, its error containing this (the
	// manifests before it are accepted).
	Refused string `json:"refused,omitempty"`
	// Conditions eventually hold on the named objects.
	Conditions []conditionExpectation `json:"conditions,omitempty"`
	// Events eventually exist about the named objects.
	Events []eventExpectation `json:"events,omitempty"`
	// Run is the outcome of a RetentionPolicy's first finished run (the manifest asks
	// for it with the privacy.lethe.dev/run-now annotation).
	Run *runExpectation `json:"run,omitempty"`
	// Jobs are the finished worker Jobs of an owner.
	Jobs *jobsExpectation `json:"jobs,omitempty"`
	// DatabaseUnchanged: every row of the database is as it was before the manifests.
	DatabaseUnchanged bool `json:"databaseUnchanged,omitempty"`
}

type conditionExpectation struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

type eventExpectation struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

type runExpectation struct {
	Policy string `json:"policy"`
	// Result of the run: Succeeded, Failed or Skipped.
	Result string `json:"result"`
	// Reason and Message (a substring) of its first database run.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Outcome, when set, is a rule outcome the first database run lists (refused,
	// wouldDelete, ...).
	Outcome string `json:"outcome,omitempty"`
}

type jobsExpectation struct {
	// Owner is the name of the object the Jobs run for.
	Owner string `json:"owner"`
	// Reason of the Job's Failed condition (PodFailurePolicy, BackoffLimitExceeded).
	Reason string `json:"reason"`
	// Pods is how many pods the Job ran.
	Pods int `json:"pods"`
}

// corpusFile is a parsed case file.
type corpusFile struct {
	path      string
	spec      corpusCase
	manifests [][]byte
}

// TestBadManifestCorpus applies every case of test/corpus to the API server and, for
// the cases it accepts, runs the manager with the job runner against real databases.
func TestBadManifestCorpus(t *testing.T) {
	files := corpusFiles(t)
	if len(files) < 80 {
		t.Fatalf("the corpus has %d cases, want at least 80", len(files))
	}
	logs := &lockedBuffer{}
	runManager(t, managerSetup{operatorNamespace: operatorNamespace(t, true), logs: logs,
		// With retries on, a fixed outcome that is retried would show as more pods.
		jobs: func(j *controllers.JobSettings) { j.BackoffLimit = 2 }})
	databases := make(chan struct{}, 3)
	for _, f := range files {
		name, _ := filepath.Rel(filepath.Join(repoRoot, "test", "corpus"), f.path)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			if f.spec.Database != nil {
				databases <- struct{}{}
				defer func() { <-databases }()
			}
			runCase(t, f)
		})
	}
}

// corpusFiles reads every case; a case that does not parse fails the test.
func corpusFiles(t *testing.T) []corpusFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "test", "corpus", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var files []corpusFile
	for _, p := range paths {
		f, err := parseCase(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files = append(files, f)
	}
	return files
}

func parseCase(path string) (corpusFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return corpusFile{}, err
	}
	f := corpusFile{path: path}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return f, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if i == 0 {
			if err := yaml.UnmarshalStrict(doc, &f.spec); err != nil {
				return f, fmt.Errorf("the case (first document): %w", err)
			}
			continue
		}
		f.manifests = append(f.manifests, doc)
	}
	e := f.spec.Expect
	switch {
	case f.spec.Description == "":
		return f, errors.New("the case has no description")
	case len(f.manifests) == 0:
		return f, errors.New("the case has no manifest")
	case e.Refused == "" && len(e.Conditions) == 0 && len(e.Events) == 0 && e.Run == nil && e.Jobs == nil:
		return f, errors.New("the case expects nothing")
	case e.DatabaseUnchanged && f.spec.Database == nil:
		return f, errors.New("databaseUnchanged needs a database")
	}
	return f, nil
}

// runCase applies one case in its own namespace and checks what it expects.
func runCase(t *testing.T, f corpusFile) {
	g := NewWithT(t)
	ns := newNamespace(t, "corpus")
	vars := map[string]string{"${NAMESPACE}": ns}
	var db *sql.DB
	var before snapshot
	if d := f.spec.Database; d != nil {
		db = corpusDatabaseFor(t, g, ns, d, vars)
		before = takeSnapshot(t, db)
	}
	e := f.spec.Expect
	for i, m := range f.manifests {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(substitute(string(m), vars)), &obj.Object); err != nil {
			t.Fatalf("manifest %d: %v", i+1, err)
		}
		obj.SetNamespace(ns)
		err := env.Client.Create(context.Background(), obj)
		last := i == len(f.manifests)-1
		switch {
		case last && e.Refused != "":
			if err == nil {
				t.Fatalf("the API server accepted the %s %q; want it refused with %q", obj.GetKind(), obj.GetName(), e.Refused)
			}
			if !strings.Contains(err.Error(), e.Refused) {
				t.Fatalf("refused, but the error does not say %q:\n%v", e.Refused, err)
			}
		case err != nil:
			t.Fatalf("the API server refused the %s %q: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	for _, c := range e.Conditions {
		expectCondition(g, ns, c)
	}
	for _, ev := range e.Events {
		expectEvent(g, ns, ev)
	}
	if e.Run != nil {
		expectRun(g, ns, *e.Run)
	}
	if e.Jobs != nil {
		expectJobs(g, ns, *e.Jobs)
	}
	if e.DatabaseUnchanged {
		g.Expect(takeSnapshot(t, db)).To(Equal(before), "the database changed")
	}
}

// corpusDatabaseFor creates the case's database, its login Secret (booking-db) and, when
// asked, the fixture's DataMap and TenantDatabase.
func corpusDatabaseFor(t *testing.T, g Gomega, ns string, d *corpusDatabase, vars map[string]string) *sql.DB {
	t.Helper()
	server := map[string]*testdb.Server{testdb.Postgres: postgres, testdb.MariaDB: mariadb}[d.Engine]
	if server == nil || d.Fixture != "booking" {
		t.Fatalf("database: engine %q (postgres or mariadb), fixture %q (booking)", d.Engine, d.Fixture)
	}
	customers := d.Customers
	if customers == 0 {
		customers = 200
	}
	name := strings.ReplaceAll(ns, "-", "_")
	db := loadBookingData(t, server, name, customers, time.Now().UTC())
	credentialsSecret(t, ns, "booking-db", server)
	vars["${DB_ENGINE}"], vars["${DB_HOST}"], vars["${DB_PORT}"] = server.Engine, "localhost", strconv.Itoa(server.Port)
	vars["${DB_NAME}"], vars["${DB_SECRET}"] = name, "booking-db"
	if !d.Objects {
		return db
	}
	applyFile(t, filepath.Join("testdata", "retention_datamap.yaml"), ns)
	tdb := &privacyv1alpha1.TenantDatabase{
		ObjectMeta: metav1.ObjectMeta{Name: "booking-db", Namespace: ns, Labels: map[string]string{"app": "booking"}},
		Spec: privacyv1alpha1.TenantDatabaseSpec{
			Engine: privacyv1alpha1.Engine(server.Engine), Host: "localhost", Port: int32(server.Port), Database: name,
			CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: "booking-db"},
			TLS: &privacyv1alpha1.DatabaseTLS{Mode: privacyv1alpha1.TLSVerifyFull,
				CASecretRef: &privacyv1alpha1.SecretKeyRef{Name: "booking-db", Key: "ca.crt"}},
			DataMapRef: "booking-app",
		},
	}
	g.Expect(env.Client.Create(context.Background(), tdb)).To(Succeed())
	return db
}

func substitute(s string, vars map[string]string) string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, vars[k])
	}
	return s
}

func letheObject(kind, ns, name string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(privacyv1alpha1.GroupVersion.String())
	obj.SetKind(kind)
	obj.SetNamespace(ns)
	obj.SetName(name)
	return obj
}

func expectCondition(g Gomega, ns string, want conditionExpectation) {
	g.Eventually(func(g Gomega) {
		obj := letheObject(want.Kind, ns, want.Name)
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		var found map[string]any
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == want.Type {
				found = m
			}
		}
		g.Expect(found).NotTo(BeNil(), "%s %s has no condition %s: %v", want.Kind, want.Name, want.Type, conds)
		g.Expect(found["status"]).To(Equal(want.Status), "%v", found)
		if want.Reason != "" {
			g.Expect(found["reason"]).To(Equal(want.Reason), "%v", found)
		}
		g.Expect(found["message"]).To(ContainSubstring(want.Message), "%v", found)
	}, eventually).Should(Succeed())
}

func expectEvent(g Gomega, ns string, want eventExpectation) {
	g.Eventually(func(g Gomega) {
		var seen []string
		list := &eventsv1.EventList{}
		g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
		for _, e := range list.Items {
			if e.Regarding.Name == want.Name && e.Type == want.Type && e.Reason == want.Reason && strings.Contains(e.Note, want.Message) {
				return
			}
			seen = append(seen, fmt.Sprintf("%s %s %s: %s", e.Regarding.Name, e.Type, e.Reason, e.Note))
		}
		core := &corev1.EventList{}
		g.Expect(env.Client.List(context.Background(), core, client.InNamespace(ns))).To(Succeed())
		for _, e := range core.Items {
			if e.InvolvedObject.Name == want.Name && e.Type == want.Type && e.Reason == want.Reason && strings.Contains(e.Message, want.Message) {
				return
			}
			seen = append(seen, fmt.Sprintf("%s %s %s: %s", e.InvolvedObject.Name, e.Type, e.Reason, e.Message))
		}
		g.Expect(seen).To(ContainElement(ContainSubstring(want.Reason)), "no %s event %s about %s saying %q", want.Type, want.Reason, want.Name, want.Message)
	}, eventually).Should(Succeed())
}

func expectRun(g Gomega, ns string, want runExpectation) {
	policy := &privacyv1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: want.Policy}}
	var run privacyv1alpha1.Run
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(policy), policy)).To(Succeed())
		g.Expect(policy.Status.Current).To(BeNil())
		g.Expect(policy.Status.History).NotTo(BeEmpty())
		run = policy.Status.History[len(policy.Status.History)-1]
	}, 2*eventually).Should(Succeed())
	g.Expect(run.Result).To(Equal(want.Result), "%+v", run)
	if want.Reason == "" && want.Message == "" && want.Outcome == "" {
		return
	}
	g.Expect(run.Databases).NotTo(BeEmpty(), "%+v", run)
	dr := run.Databases[0]
	g.Expect(dr.Reason).To(Equal(want.Reason), "%+v", dr)
	g.Expect(dr.Message).To(ContainSubstring(want.Message), "%+v", dr)
	if want.Outcome != "" {
		var outcomes []string
		for _, r := range dr.Rules {
			outcomes = append(outcomes, r.Outcome)
		}
		g.Expect(outcomes).To(ContainElement(want.Outcome), "%+v", dr)
	}
}

func expectJobs(g Gomega, ns string, want jobsExpectation) {
	g.Eventually(func(g Gomega) {
		jobs := &batchv1.JobList{}
		g.Expect(env.Client.List(context.Background(), jobs, client.InNamespace(ns),
			client.MatchingLabels{controllers.LabelOwnerName: want.Owner})).To(Succeed())
		g.Expect(jobs.Items).NotTo(BeEmpty(), "no Job of %s", want.Owner)
		for _, job := range jobs.Items {
			var failed *batchv1.JobCondition
			for i, c := range job.Status.Conditions {
				if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
					failed = &job.Status.Conditions[i]
				}
			}
			g.Expect(failed).NotTo(BeNil(), "Job %s has not failed: %+v", job.Name, job.Status)
			g.Expect(failed.Reason).To(Equal(want.Reason), "%+v", failed)
			pods := &corev1.PodList{}
			g.Expect(env.Client.List(context.Background(), pods, client.InNamespace(ns),
				client.MatchingLabels{batchv1.JobNameLabel: job.Name})).To(Succeed())
			g.Expect(pods.Items).To(HaveLen(want.Pods), "pods of Job %s", job.Name)
		}
	}, eventually).Should(Succeed())
}
