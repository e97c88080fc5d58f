package e2e

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// zooDatabase is one database holding the schema zoo.
type zooDatabase struct {
	db     *sql.DB
	engine string
}

// addZooDatabase creates the schema zoo on the server and a TenantDatabase for it with
// the zoo's DataMap, and waits for its schema (links derived from the foreign keys) to
// be verified.
func (ec *erasureCluster) addZooDatabase(t *testing.T, g Gomega, server *testdb.Server, name string) zooDatabase {
	t.Helper()
	sqlName := ec.sqlName(name)
	ctx := context.Background()
	if err := server.CreateDatabase(ctx, sqlName); err != nil {
		t.Fatal(err)
	}
	driver := "pgx"
	if server.Engine == testdb.MariaDB {
		driver = "mysql"
	}
	db, err := sql.Open(driver, server.DSN(sqlName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, stmt := range testdb.ZooSchema(server.Engine) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("loading the zoo: %v\n%s", err, stmt)
		}
	}
	ec.addTenantDatabase(t, g, server, name, sqlName, "shop")
	return zooDatabase{db: db, engine: server.Engine}
}

func (z zooDatabase) hashes(t *testing.T) map[string]map[string]string {
	t.Helper()
	h, err := testdb.RowHashes(context.Background(), z.db, z.engine)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (z zooDatabase) keys(t *testing.T, pairs ...string) []string {
	t.Helper()
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		k, err := testdb.ZooKeys(context.Background(), z.db, z.engine, pairs[i], pairs[i+1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k...)
	}
	return out
}

// TestZooErasure runs erasures through the manager and real worker Jobs against the
// schema zoo on PostgreSQL and MariaDB: a customer found by her e-mail in another letter
// case, previewed (what the legal hold keeps is listed before approval) and approved; a
// customer whose address is shared with another; the last admin of an account, whom a
// guard keeps. Every row not erased is compared byte for byte before and after.
func TestZooErasure(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "zoo")
	applyFile(t, filepath.Join("testdata", "zoo_datamap.yaml"), ec.ns)
	dbs := map[string]zooDatabase{
		"zoo-pg":    ec.addZooDatabase(t, g, postgres, "zoo-pg"),
		"zoo-maria": ec.addZooDatabase(t, g, mariadb, "zoo-maria"),
	}
	before := map[string]map[string]map[string]string{}
	for name, z := range dbs {
		before[name] = z.hashes(t)
	}

	ann := ec.fileRequest(t, "req-ann", "email", "ann.smith@example.com", func(s *privacyv1alpha1.ErasureRequestSpec) {
		s.Approval = &privacyv1alpha1.Approval{Required: true}
	})
	bob := ec.fileRequest(t, "req-bob", "customerId", "2", nil)
	dan := ec.fileRequest(t, "req-dan", "email", "DAN@example.com", nil)

	g.Eventually(func(g Gomega) {
		c := condition(g, ann, privacyv1alpha1.ConditionAwaitingApproval)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}, eventually).Should(Succeed())
	for name := range dbs {
		preview := ann.Status.GetTarget(name)
		g.Expect(preview.State).To(Equal(privacyv1alpha1.TargetPreviewed), name)
		g.Expect(preview.Tables).To(ContainElements(
			And(HaveField("Name", "invoice_line"), HaveField("Outcome", plan.OutcomeRetained), HaveField("Rows", int64(2)),
				HaveField("Basis", "bookkeeping-law"), HaveField("RetainedUntil", Not(BeNil()))),
			And(HaveField("Name", "refund"), HaveField("Outcome", plan.OutcomeRetained), HaveField("Rows", int64(1))),
			And(HaveField("Name", "address"), HaveField("Outcome", plan.OutcomeWouldAnonymize), HaveField("Rows", int64(1))),
		), "%s: the preview lists what the hold keeps", name)
	}
	g.Expect(patchRequest(ann, func(s *privacyv1alpha1.ErasureRequestSpec) { s.Approval.Approved = true })).To(Succeed())
	waitComplete(g, ann)
	waitComplete(g, bob)
	g.Expect(ann.Status.Receipt.Document).To(ContainSubstring(`"basis":"bookkeeping-law"`))

	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(dan), dan)).To(Succeed())
		g.Expect(dan.Status.Phase).To(Equal(privacyv1alpha1.ErasureNeedsInformation))
	}, eventually).Should(Succeed())
	stalled := condition(g, dan, privacyv1alpha1.ConditionStalled)
	g.Expect(stalled.Reason).To(Equal(privacyv1alpha1.ReasonGuarded))
	g.Expect(stalled.Message).To(ContainSubstring(`guard "last-admin"`))

	for name, z := range dbs {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(bob.Status.GetTarget(name).Tables).To(ContainElement(And(HaveField("Name", "address"),
				HaveField("Outcome", plan.OutcomeShared), HaveField("ReferencedBy", []string{"Customer"}))))
			guarded := dan.Status.GetTarget(name)
			g.Expect(guarded.State).To(Equal(privacyv1alpha1.TargetGuarded))
			g.Expect(guarded.Tables).To(ConsistOf(And(HaveField("Name", "Customer"), HaveField("Outcome", plan.OutcomeGuarded))))
			changed := z.keys(t, "Customer", "customer_id IN (1, 2)", "address", "address_id = 1",
				"invoice", "invoice_id = 101", "invoice_line", "invoice_id = 101", "refund", "refund_id = 1001",
				"payment", "payment_id IN (1, 2, 3)")
			deleted := []string{"support_ticket:1", "support_ticket:2"}
			after := z.hashes(t)
			for table, rows := range before[name] {
				for key, hash := range rows {
					id := table + ":" + key
					now, present := after[table][key]
					switch {
					case slices.Contains(deleted, id):
						g.Expect(present).To(BeFalse(), "%s is deleted", id)
					case slices.Contains(changed, id):
						g.Expect(present && now != hash).To(BeTrue(), "%s is erased", id)
					default:
						g.Expect(present).To(BeTrue(), "%s is not Ann's or Bob's and stays", id)
						g.Expect(now).To(Equal(hash), "%s is not Ann's or Bob's: byte for byte the same", id)
					}
				}
			}
			for _, zt := range testdb.ZooTables {
				gone := 0
				for _, id := range deleted {
					if strings.HasPrefix(id, zt.Name+":") {
						gone++
					}
				}
				g.Expect(after[zt.Name]).To(HaveLen(len(before[name][zt.Name])-gone), "rows of %s", zt.Name)
			}
		})
	}
}
