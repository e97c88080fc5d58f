package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// draftCluster is a namespace with a TenantDatabase whose DataMap does not exist yet: the
// state a platform engineer starts a DataMap from.
type draftCluster struct {
	ns  string
	tdb *privacyv1alpha1.TenantDatabase
}

// startDraft creates a database with the schema, the TenantDatabase for it (its DataMap,
// booking-app, missing) and, with drafterRBAC, the draft account's RBAC from config/rbac.
func startDraft(t *testing.T, server *testdb.Server, database string, schema []string, drafterRBAC bool) *draftCluster {
	t.Helper()
	startManager(t)
	dc := &draftCluster{ns: newNamespace(t, "draft")}
	if drafterRBAC {
		bindDrafter(t, dc.ns)
	}
	schemaDatabase(t, server, database, schema)
	credentialsSecret(t, dc.ns, "tenant-db", server)
	applySample(t, "privacy_v1alpha1_tenantdatabase.yaml", dc.ns, tenantDatabaseSpec(server, database, "tenant-db"))
	dc.tdb = &privacyv1alpha1.TenantDatabase{}
	dc.tdb.Name, dc.tdb.Namespace = "hotel-aurora", dc.ns
	return dc
}

// schemaDatabase creates a database on the server with the schema's statements.
func schemaDatabase(t *testing.T, s *testdb.Server, name string, schema []string) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, name))
	t.Cleanup(func() { _ = s.DropDatabase(context.Background(), name) })
	driver := "pgx"
	if s.Engine == testdb.MariaDB {
		driver = "mysql"
	}
	db, err := sql.Open(driver, s.DSN(name))
	must(t, err)
	defer db.Close()
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// bindDrafter creates the drafter ClusterRole from config/rbac and binds it to the draft
// ServiceAccount in the namespace, as the Helm chart does: the job runner runs draft
// pods as that account, so the ConfigMap is created with its RBAC alone.
func bindDrafter(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join(repoRoot, "config", "rbac", "drafter_rbac.yaml"))
	must(t, err)
	var role *rbacv1.ClusterRole
	for _, doc := range strings.Split(string(b), "\n---\n") {
		r := &rbacv1.ClusterRole{}
		if err := yaml.Unmarshal([]byte(doc), r); err == nil && r.Kind == "ClusterRole" {
			role = r
		}
	}
	if role == nil {
		t.Fatal("config/rbac/drafter_rbac.yaml has no ClusterRole")
	}
	role.Name = "lethe-drafter"
	if err := env.Client.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	must(t, env.Client.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "lethe-drafter", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns,
			Name: controllers.DefaultJobSettings().DraftServiceAccountName}},
	}))
}

// askForDraft sets the draft-now annotation and waits for the draft to be published; it
// returns the ConfigMap status.draft names.
func (dc *draftCluster) askForDraft(t *testing.T, g Gomega, trigger string) *corev1.ConfigMap {
	t.Helper()
	g.Expect(setAnnotation(dc.tdb, privacyv1alpha1.DraftNowAnnotation, trigger)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, dc.tdb, privacyv1alpha1.ConditionDataMapDrafted)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonDraftPublished), c.Message)
		g.Expect(dc.tdb.Status.Draft.Trigger).To(Equal(trigger))
	}, eventually).Should(Succeed())
	cm := &corev1.ConfigMap{}
	must(t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: dc.ns, Name: dc.tdb.Status.Draft.ConfigMap}, cm))
	g.Expect(cm.OwnerReferences).To(ContainElement(HaveField("UID", dc.tdb.UID)), "the ConfigMap is not the TenantDatabase's")
	g.Expect(cm.Immutable).To(HaveValue(BeTrue()))
	return cm
}

// The annotation drafts a DataMap of a shop schema into a ConfigMap the status names,
// though the DataMap does not exist; applied as it is (with the hash key it asks for),
// the draft passes admission and the TenantDatabase's verification. A new annotation
// value drafts again into a new ConfigMap and the old one goes.
func TestDataMapDraftPublishedAndVerified(t *testing.T) {
	g := NewWithT(t)
	dc := startDraft(t, postgres, "draft_shop", testdb.ShopSchema(testdb.Postgres), true)
	cm := dc.askForDraft(t, g, "first")

	g.Expect(reasonOf(g, dc.tdb, privacyv1alpha1.ConditionReady)).To(Equal(privacyv1alpha1.ReasonDataMapNotFound))
	g.Expect(dc.tdb.Status.Draft.TablesSeen).To(BeEquivalentTo(len(testdb.ShopSchema(testdb.Postgres))))
	g.Expect(dc.tdb.Status.Draft.Guesses).To(BeNumerically(">", 0))
	g.Expect(cm.Labels).To(HaveKeyWithValue(controllers.LabelComponent, "datamap-draft"))
	g.Expect(draftEventReasons(g, dc.tdb)).To(ContainElement(privacyv1alpha1.ReasonDraftPublished))

	doc := cm.Data[plan.DraftKey]
	dm := &privacyv1alpha1.DataMap{}
	must(t, yaml.UnmarshalStrict([]byte(doc), dm))
	g.Expect(dm.Name).To(Equal(dc.tdb.Spec.DataMapRef))
	g.Expect(dm.Namespace).To(Equal(dc.ns))
	g.Expect(dm.Spec.HashKeySecretRef).NotTo(BeNil())
	must(t, env.Client.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: dm.Spec.HashKeySecretRef.Name, Namespace: dc.ns},
		Data:       map[string][]byte{dm.Spec.HashKeySecretRef.Key: []byte("e2e-draft-hash-key")},
	}))
	must(t, env.Client.Create(context.Background(), dm))
	g.Eventually(func(g Gomega) {
		c := condition(g, dc.tdb, privacyv1alpha1.ConditionSchemaVerified)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}, eventually).Should(Succeed())

	again := dc.askForDraft(t, g, "second")
	g.Expect(again.Name).NotTo(Equal(cm.Name))
	g.Expect(again.Data[plan.DraftKey]).To(Equal(doc), "the schema did not change, nor should its draft")
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(context.Background(), client.ObjectKeyFromObject(cm), &corev1.ConfigMap{}))
	}, eventually).Should(BeTrue(), "the first draft's ConfigMap is still there")
}

// A 200-table schema's draft reaches the ConfigMap whole: every table is in it, named in
// the DataMap or in a comment, and the status counts them all.
func TestDataMapDraftOfAWideSchema(t *testing.T) {
	const tables = 200
	g := NewWithT(t)
	dc := startDraft(t, mariadb, "draft_wide", testdb.WideSchema(testdb.MariaDB, tables), true)
	cm := dc.askForDraft(t, g, "wide")
	doc := cm.Data[plan.DraftKey]
	t.Logf("the draft of %d tables is %d bytes; %d tables described, %d guesses",
		tables, len(doc), dc.tdb.Status.Draft.Tables, dc.tdb.Status.Draft.Guesses)
	g.Expect(dc.tdb.Status.Draft.TablesSeen).To(BeEquivalentTo(tables))
	g.Expect(strings.Contains(doc, "\n  - name: accounts ")).To(BeTrue(), "no accounts table")
	for i := 1; i < tables; i++ {
		g.Expect(doc).To(MatchRegexp(fmt.Sprintf(`(?m)(- name: |#   )module%03d_`, i)), "table %d is missing", i)
	}
}

// Without the draft account's RBAC the worker cannot publish: the condition says so, with
// the API server's refusal, and nothing is retried until the annotation changes.
func TestDataMapDraftWithoutRBAC(t *testing.T) {
	g := NewWithT(t)
	dc := startDraft(t, postgres, "draft_norbac", testdb.WideSchema(testdb.Postgres, 10), false)
	g.Expect(setAnnotation(dc.tdb, privacyv1alpha1.DraftNowAnnotation, "no-rbac")).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, dc.tdb, privacyv1alpha1.ConditionDataMapDrafted)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse), c.Message)
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonDraftFailed))
		g.Expect(c.Message).To(And(ContainSubstring(plan.ErrDeliveryFailed), ContainSubstring("forbidden"),
			ContainSubstring(privacyv1alpha1.DraftNowAnnotation)))
		g.Expect(dc.tdb.Status.Draft.CompletedAt).NotTo(BeNil())
		g.Expect(dc.tdb.Status.Draft.ConfigMap).To(BeEmpty())
	}, eventually).Should(Succeed())
	g.Expect(draftEventReasons(g, dc.tdb)).To(ContainElement(privacyv1alpha1.ReasonDraftFailed))
}

func reasonOf(g Gomega, obj client.Object, typ string) string {
	c := condition(g, obj, typ)
	g.Expect(c).NotTo(BeNil(), "no %s condition", typ)
	return c.Reason
}

func draftEventReasons(g Gomega, tdb *privacyv1alpha1.TenantDatabase) []string {
	list := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), list, client.InNamespace(tdb.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == tdb.Name && e.Regarding.Kind == "TenantDatabase" && e.Action == "Draft" {
			out = append(out, e.Reason)
		}
	}
	return out
}
