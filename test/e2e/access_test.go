package e2e

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// accessCluster is one access test's namespace, manager logs and clock.
type accessCluster struct {
	ns    string
	logs  *lockedBuffer
	clock *clocktesting.FakeClock
}

// startAccessManager runs the controllers with a fingerprint key in an operator namespace,
// a fake clock the test advances, the manager's logs captured, and the exporter's RBAC
// (config/rbac/exporter_rbac.yaml) bound in the test's namespace: the job runner runs
// export pods as their ServiceAccount, so the Secret is created with that RBAC alone.
func startAccessManager(t *testing.T, prefix string) *accessCluster {
	t.Helper()
	return startAccessManagerWith(t, prefix, true)
}

func startAccessManagerWith(t *testing.T, prefix string, exporterRBAC bool) *accessCluster {
	t.Helper()
	ac := &accessCluster{ns: newNamespace(t, prefix), logs: &lockedBuffer{}, clock: clocktesting.NewFakeClock(time.Now())}
	if exporterRBAC {
		bindExporter(t, ac.ns)
	}
	runManager(t, managerSetup{clock: ac.clock, operatorNamespace: operatorNamespace(t, true), logs: ac.logs})
	return ac
}

// bindExporter creates the exporter ClusterRole from config/rbac and binds it to the
// export ServiceAccount in the namespace, as the Helm chart does.
func bindExporter(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join(repoRoot, "config", "rbac", "exporter_rbac.yaml"))
	must(t, err)
	var role *rbacv1.ClusterRole
	for _, doc := range strings.Split(string(b), "\n---\n") {
		r := &rbacv1.ClusterRole{}
		if err := yaml.Unmarshal([]byte(doc), r); err == nil && r.Kind == "ClusterRole" {
			role = r
		}
	}
	if role == nil {
		t.Fatal("config/rbac/exporter_rbac.yaml has no ClusterRole")
	}
	role.Name = "lethe-exporter"
	if err := env.Client.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	must(t, env.Client.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "lethe-exporter", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns,
			Name: controllers.DefaultJobSettings().ExportServiceAccountName}},
	}))
}

// addDatabase creates a booking sample database on the server and a TenantDatabase for
// it, and waits for its schema to be verified. The database is opened with UTC times.
func (ac *accessCluster) addDatabase(t *testing.T, g Gomega, server *testdb.Server, name string) *sql.DB {
	t.Helper()
	sqlName := strings.ReplaceAll(fmt.Sprintf("%s_%s", ac.ns, name), "-", "_")
	newDatabase(t, server, sqlName)
	driver := "pgx"
	if server.Engine == testdb.MariaDB {
		driver = "mysql"
	}
	db, err := sql.Open(driver, server.DSN(sqlName)+dsnUTC(server.Engine))
	must(t, err)
	t.Cleanup(func() { db.Close() })
	secret := name + "-login"
	credentialsSecret(t, ac.ns, secret, server)
	tdb := &privacyv1alpha1.TenantDatabase{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ac.ns, Labels: map[string]string{"app": "booking"}},
		Spec: privacyv1alpha1.TenantDatabaseSpec{
			Engine: privacyv1alpha1.Engine(server.Engine), Host: "localhost", Port: int32(server.Port), Database: sqlName,
			CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: secret},
			TLS: &privacyv1alpha1.DatabaseTLS{Mode: privacyv1alpha1.TLSVerifyFull,
				CASecretRef: &privacyv1alpha1.SecretKeyRef{Name: secret, Key: "ca.crt"}},
			DataMapRef: "booking-app",
		},
	}
	g.Expect(env.Client.Create(context.Background(), tdb)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, tdb, privacyv1alpha1.ConditionSchemaVerified)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}, eventually).Should(Succeed())
	return db
}

// fileRequest creates the Secret holding the identifier and an AccessRequest for it.
func (ac *accessCluster) fileRequest(t *testing.T, name, identifier string, formats ...privacyv1alpha1.ExportFormat) *privacyv1alpha1.AccessRequest {
	t.Helper()
	must(t, env.Client.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-subject", Namespace: ac.ns},
		Data:       map[string][]byte{"value": []byte(identifier)}}))
	ar := &privacyv1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ac.ns},
		Spec: privacyv1alpha1.AccessRequestSpec{
			Subject: privacyv1alpha1.ErasureSubject{Type: "email", SecretRef: privacyv1alpha1.SecretKeyRef{Name: name + "-subject", Key: "value"}},
			Formats: formats,
		},
	}
	must(t, env.Client.Create(context.Background(), ar))
	return ar
}

func waitAccessComplete(g Gomega, ar *privacyv1alpha1.AccessRequest) {
	g.Eventually(func(g Gomega) {
		c := condition(g, ar, privacyv1alpha1.ConditionComplete)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
	}, eventually).Should(Succeed())
}

// exportSecrets lists the Secrets Lethe delivered for the request.
func exportSecrets(g Gomega, ar *privacyv1alpha1.AccessRequest) []corev1.Secret {
	list := &corev1.SecretList{}
	g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ar.Namespace),
		client.MatchingLabels{controllers.LabelOwnerKind: "AccessRequest", controllers.LabelOwnerName: ar.Name})).To(Succeed())
	return list.Items
}

// subjectRows reads customer id's rows of the linked booking tables, in key order, as
// column -> value scanned by the driver.
func subjectRows(t *testing.T, db *sql.DB, id int64) (map[string][]string, map[string][]map[string]any) {
	t.Helper()
	columns, rows := map[string][]string{}, map[string][]map[string]any{}
	for _, table := range accessTables {
		where := "customer_id"
		if table == "customers" {
			where = "id"
		}
		res, err := db.Query(fmt.Sprintf("SELECT * FROM %s WHERE %s = %d ORDER BY id", table, where, id))
		must(t, err)
		cols, err := res.Columns()
		must(t, err)
		columns[table] = cols
		for res.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, res.Scan(ptrs...))
			row := map[string]any{}
			for i, c := range cols {
				row[c] = vals[i]
			}
			rows[table] = append(rows[table], row)
		}
		must(t, res.Err())
		res.Close()
	}
	return columns, rows
}

// exported is a value as the export documents it: text as text, binary as base64, times
// in RFC 3339 UTC, numbers as numbers.
func exported(v any) any {
	switch x := v.(type) {
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// csvText is a value as the CSV files write it.
func csvText(v any) string {
	switch x := exported(v).(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// accessTables are the booking sample's tables linked to a customer.
var accessTables = []string{"customers", "bookings", "invoices", "support_tickets"}

// categories of the sample DataMap's personal columns.
var categories = map[string]string{
	"customers.email": "contact", "customers.full_name": "name", "customers.phone": "contact",
	"customers.birth_date": "demographic", "customers.country": "demographic",
	"bookings.ip_address": "online-identifier", "invoices.billing_name": "name",
	"invoices.billing_address": "location", "support_tickets.body": "free-text",
}

// exportDocument is one Secret's export.json: {"databases": {name: document}}.
type exportDocument struct {
	Databases map[string]struct {
		Database   string    `json:"database"`
		Subject    string    `json:"subject"`
		ExportedAt time.Time `json:"exportedAt"`
		Tables     map[string][]map[string]struct {
			Value    json.RawMessage `json:"value"`
			Category string          `json:"category"`
		} `json:"tables"`
	} `json:"databases"`
}

// TestAccessExportAcrossEngines exports a customer of the booking sample from a
// PostgreSQL and a MariaDB TenantDatabase, and compares every value of the JSON document
// and of the CSV files in the delivered Secrets with the rows in the databases. Nothing
// personal appears anywhere else: Events, ConfigMaps, Jobs, Pods, the request's status,
// the manager's logs.
func TestAccessExportAcrossEngines(t *testing.T) {
	g := NewWithT(t)
	ac := startAccessManager(t, "access")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ac.ns, nil)
	dbs := map[string]*sql.DB{
		"aurora": ac.addDatabase(t, g, postgres, "aurora"),
		"cygnus": ac.addDatabase(t, g, mariadb, "cygnus"),
	}
	const customer, email = 90, "guest90@mail.example"
	ar := ac.fileRequest(t, "req-0090", email, privacyv1alpha1.ExportJSON, privacyv1alpha1.ExportCSV)
	waitAccessComplete(g, ar)

	g.Expect(ar.Status.Phase).To(Equal(privacyv1alpha1.AccessComplete))
	g.Expect(ar.Status.Databases).To(Equal("2/2"))
	g.Expect(ar.Status.SubjectFingerprint).To(MatchRegexp(`^hmac-sha256:[0-9a-f]{64}$`))
	g.Expect(condition(g, ar, privacyv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(condition(g, ar, privacyv1alpha1.ConditionDeadlineExceeded).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(condition(g, ar, privacyv1alpha1.ConditionExpired).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(ar.Status.Delivery).NotTo(BeNil())
	g.Expect(ar.Status.Delivery.ExpiresAt.Time).To(Equal(ar.Status.Delivery.CompletedAt.AddDate(0, 0, 30)))
	g.Expect(ar.Status.Delivery.Secrets).To(HaveLen(2))
	g.Expect(exportSecrets(g, ar)).To(HaveLen(2))

	var samples []string
	for _, delivered := range ar.Status.Delivery.Secrets {
		t.Run(delivered.Database, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(delivered.Name).To(Equal("req-0090-" + delivered.Database))
			secret := &corev1.Secret{}
			g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ac.ns, Name: delivered.Name}, secret)).To(Succeed())
			g.Expect(secret.OwnerReferences).To(ConsistOf(HaveField("UID", ar.UID)))
			g.Expect(secret.Immutable).To(HaveValue(BeTrue()))
			var size int64
			for k, v := range secret.Data {
				size += int64(len(k) + len(v))
			}
			g.Expect(size).To(Equal(delivered.Bytes))

			var doc exportDocument
			g.Expect(json.Unmarshal(secret.Data["export.json"], &doc)).To(Succeed(), "%s", secret.Data["export.json"])
			g.Expect(doc.Databases).To(HaveLen(1))
			export, ok := doc.Databases[delivered.Database]
			g.Expect(ok).To(BeTrue(), "export.json is keyed by the database")
			g.Expect(export.Subject).To(Equal(ar.Name))
			g.Expect(export.Database).NotTo(BeEmpty())
			g.Expect(export.ExportedAt).NotTo(BeZero())

			columns, rows := subjectRows(t, dbs[delivered.Database], customer)
			target := ar.Status.GetTarget(delivered.Database)
			g.Expect(target.State).To(Equal(privacyv1alpha1.ExportDelivered))
			for _, table := range accessTables {
				want := rows[table]
				g.Expect(want).NotTo(BeEmpty(), "customer %d has rows in %s", customer, table)
				g.Expect(target.Tables).To(ContainElement(privacyv1alpha1.ExportedTable{Name: table, Rows: int64(len(want))}))
				got := export.Tables[table]
				g.Expect(got).To(HaveLen(len(want)), "export.json: %s", table)
				records, err := csv.NewReader(strings.NewReader(string(secret.Data[delivered.Database+"."+table+".csv"]))).ReadAll()
				g.Expect(err).NotTo(HaveOccurred(), table)
				g.Expect(records).To(HaveLen(len(want)+1), "%s.csv: a header and the rows", table)
				g.Expect(records[0]).To(Equal(columns[table]), "%s.csv header", table)
				for i, row := range want {
					g.Expect(got[i]).To(HaveLen(len(columns[table])), "%s row %d", table, i)
					for j, col := range columns[table] {
						value, err := json.Marshal(exported(row[col]))
						g.Expect(err).NotTo(HaveOccurred())
						g.Expect(got[i][col].Value).To(MatchJSON(value), "export.json %s[%d].%s", table, i, col)
						g.Expect(got[i][col].Category).To(Equal(categories[table+"."+col]), "category of %s.%s", table, col)
						g.Expect(records[i+1][j]).To(Equal(csvText(row[col])), "%s.csv row %d %s", table, i, col)
					}
				}
			}
			samples = append(samples, csvText(rows["customers"][0]["full_name"]), csvText(rows["customers"][0]["phone"]),
				csvText(rows["invoices"][0]["billing_address"]))
		})
	}
	g.Expect(samples).NotTo(BeEmpty())
	checkNoPersonalData(t, g, ac, append(samples, email))
}

// checkNoPersonalData searches every Event, ConfigMap, Job, Pod, AccessRequest and
// TenantDatabase of the namespace, and the manager's logs, for each value.
func checkNoPersonalData(t *testing.T, g Gomega, ac *accessCluster, values []string) {
	t.Helper()
	lists := []client.ObjectList{
		&corev1.EventList{}, &eventsv1.EventList{}, &corev1.ConfigMapList{}, &batchv1.JobList{},
		&corev1.PodList{}, &privacyv1alpha1.AccessRequestList{}, &privacyv1alpha1.TenantDatabaseList{},
	}
	var events, jobs int
	for _, list := range lists {
		g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ac.ns))).To(Succeed())
		b, err := json.Marshal(list)
		g.Expect(err).NotTo(HaveOccurred())
		for _, v := range values {
			g.Expect(strings.ToLower(string(b))).NotTo(ContainSubstring(strings.ToLower(v)), "%T holds %q", list, v)
		}
		switch l := list.(type) {
		case *eventsv1.EventList:
			events += len(l.Items)
		case *corev1.EventList:
			events += len(l.Items)
		case *batchv1.JobList:
			jobs += len(l.Items)
		}
	}
	g.Expect(events).To(BeNumerically(">", 0), "no Events were found to search")
	g.Expect(jobs).To(BeNumerically(">", 0), "no Jobs were found to search")
	logs := ac.logs.String()
	g.Expect(logs).NotTo(BeEmpty())
	for _, v := range values {
		g.Expect(strings.ToLower(logs)).NotTo(ContainSubstring(strings.ToLower(v)), "the manager's logs hold %q", v)
	}
}

// TestAccessNotFound: an identifier no database knows finishes as NotFound, Stalled, with
// nothing delivered.
func TestAccessNotFound(t *testing.T) {
	g := NewWithT(t)
	ac := startAccessManager(t, "access-nf")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ac.ns, nil)
	ac.addDatabase(t, g, postgres, "aurora")
	ar := ac.fileRequest(t, "req-nobody", "nobody@mail.example")
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(ar), ar)).To(Succeed())
		g.Expect(ar.Status.Phase).To(Equal(privacyv1alpha1.AccessNotFound))
	}, eventually).Should(Succeed())
	c := condition(g, ar, privacyv1alpha1.ConditionComplete)
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonSubjectNotFound))
	g.Expect(condition(g, ar, privacyv1alpha1.ConditionStalled).Reason).To(Equal(privacyv1alpha1.ReasonSubjectNotFound))
	g.Expect(warningNote(g, ar.Namespace, ar.Name, privacyv1alpha1.ReasonSubjectNotFound)).To(ContainSubstring("searched: aurora"))
	g.Expect(ar.Status.Delivery).To(BeNil())
	g.Expect(ar.Status.GetTarget("aurora").State).To(Equal(privacyv1alpha1.ExportNotFound))
	g.Expect(exportSecrets(g, ar)).To(BeEmpty())
	g.Expect(accessEventReasons(g, ar)).To(ContainElement(privacyv1alpha1.ReasonSubjectNotFound))
}

// TestAccessTooLarge: a customer whose rows exceed what a Secret holds in one database
// stalls the request with ExportTooLarge and its size, and no Secret is left in any
// database: what the other database delivered is withdrawn.
func TestAccessTooLarge(t *testing.T) {
	g := NewWithT(t)
	ac := startAccessManager(t, "access-big")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ac.ns, nil)
	aurora := ac.addDatabase(t, g, postgres, "aurora")
	ac.addDatabase(t, g, mariadb, "cygnus")
	body := strings.Repeat("a very long complaint about the room. ", 1000) // 38,000 bytes
	for i := range 30 {
		_, err := aurora.Exec("INSERT INTO support_tickets (customer_id, created_at, body) VALUES (90, now(), $1)", fmt.Sprintf("%d %s", i, body))
		must(t, err)
	}
	ar := ac.fileRequest(t, "req-big", "guest90@mail.example", privacyv1alpha1.ExportJSON, privacyv1alpha1.ExportCSV)
	g.Eventually(func(g Gomega) {
		c := condition(g, ar, privacyv1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonExportTooLarge))
		g.Expect(c.Message).To(MatchRegexp(`aurora: the export is \d+ bytes, more than the 1000000 a Secret can hold: nothing was delivered`))
		// The other database's Job has finished, and nothing it delivered is left.
		g.Expect(ar.Status.GetTarget("cygnus")).NotTo(BeNil())
		g.Expect(ar.Status.GetTarget("cygnus").State).NotTo(Equal(privacyv1alpha1.ExportRunning))
		g.Expect(exportSecrets(g, ar)).To(BeEmpty())
	}, eventually).Should(Succeed())
	g.Expect(ar.Status.Phase).To(Equal(privacyv1alpha1.AccessFailed))
	g.Expect(ar.Status.Delivery).To(BeNil())
	g.Expect(ar.Status.GetTarget("aurora").Bytes).To(BeNumerically(">", 1_000_000))
	g.Expect(condition(g, ar, privacyv1alpha1.ConditionComplete).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(accessEventReasons(g, ar)).To(ContainElement(privacyv1alpha1.ReasonExportTooLarge))
}

// TestAccessExpiry: once expireAfter has passed (the clock moved 31 days on), the
// export Secrets are deleted and the Expired condition says so.
func TestAccessExpiry(t *testing.T) {
	g := NewWithT(t)
	ac := startAccessManager(t, "access-exp")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ac.ns, nil)
	ac.addDatabase(t, g, postgres, "aurora")
	ar := ac.fileRequest(t, "req-0042", "guest42@mail.example")
	waitAccessComplete(g, ar)
	g.Expect(exportSecrets(g, ar)).To(HaveLen(1))
	g.Expect(exportSecrets(g, ar)[0].Data).To(HaveKey("export.json"))
	g.Expect(exportSecrets(g, ar)[0].Data).To(HaveLen(1), "json only: no CSV")
	g.Expect(condition(g, ar, privacyv1alpha1.ConditionExpired).Status).To(Equal(metav1.ConditionFalse))

	ac.clock.Step(31 * 24 * time.Hour)
	g.Expect(touch(ar)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, ar, privacyv1alpha1.ConditionExpired)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonExportExpired))
		g.Expect(c.Message).To(ContainSubstring("P30D"))
	}, eventually).Should(Succeed())
	g.Expect(ar.Status.Phase).To(Equal(privacyv1alpha1.AccessExpired))
	g.Expect(ar.Status.Delivery.ExpiredAt).NotTo(BeNil())
	g.Expect(exportSecrets(g, ar)).To(BeEmpty())
	g.Expect(accessEventReasons(g, ar)).To(ContainElement(privacyv1alpha1.ReasonExportExpired))
}

// TestAccessSubjectSecretMissing: a request whose identifier Secret does not exist stalls
// with a reason naming the Secret, and starts no Job.
func TestAccessSubjectSecretMissing(t *testing.T) {
	g := NewWithT(t)
	ac := startAccessManager(t, "access-nosecret")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ac.ns, nil)
	ac.addDatabase(t, g, postgres, "aurora")
	ar := &privacyv1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-nosecret", Namespace: ac.ns},
		Spec: privacyv1alpha1.AccessRequestSpec{Subject: privacyv1alpha1.ErasureSubject{
			Type: "email", SecretRef: privacyv1alpha1.SecretKeyRef{Name: "gone", Key: "value"}}},
	}
	g.Expect(env.Client.Create(context.Background(), ar)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, ar, privacyv1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonSubjectSecretNotFound))
		g.Expect(c.Message).To(ContainSubstring(`Secret "gone"`))
		g.Expect(accessEventReasons(g, ar)).To(ContainElement(privacyv1alpha1.ReasonSubjectSecretNotFound))
	}, eventually).Should(Succeed())
	g.Expect(ar.Status.Phase).To(Equal(privacyv1alpha1.AccessFailed))
	g.Expect(condition(g, ar, privacyv1alpha1.ConditionDeadlineExceeded).Status).To(Equal(metav1.ConditionFalse))

	// A month and a day later, still stalled: the deadline has passed.
	ac.clock.Step(32 * 24 * time.Hour)
	g.Expect(touch(ar)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, ar, privacyv1alpha1.ConditionDeadlineExceeded)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonDeadlinePassed))
		g.Expect(accessEventReasons(g, ar)).To(ContainElement(privacyv1alpha1.ReasonDeadlinePassed))
	}, eventually).Should(Succeed())
	jobs := &batchv1.JobList{}
	g.Expect(env.Client.List(context.Background(), jobs, client.InNamespace(ac.ns),
		client.MatchingLabels{controllers.LabelOwnerKind: "AccessRequest"})).To(Succeed())
	g.Expect(jobs.Items).To(BeEmpty())
}

// TestAccessWithoutExporterRBAC: when the export ServiceAccount may not create Secrets,
// the worker cannot deliver; the export is retried, then the request stalls saying why.
func TestAccessWithoutExporterRBAC(t *testing.T) {
	g := NewWithT(t)
	ac := startAccessManagerWith(t, "access-norbac", false)
	applySample(t, "privacy_v1alpha1_datamap.yaml", ac.ns, nil)
	ac.addDatabase(t, g, postgres, "aurora")
	ar := ac.fileRequest(t, "req-0007", "guest7@mail.example")
	g.Eventually(func(g Gomega) {
		c := condition(g, ar, privacyv1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal("DeliveryFailed"))
		g.Expect(c.Message).To(ContainSubstring("forbidden"))
		g.Expect(c.Message).To(ContainSubstring("after 3 attempts"))
	}, 2*eventually).Should(Succeed())
	g.Expect(ar.Status.GetTarget("aurora").Attempts).To(BeEquivalentTo(3))
	g.Expect(exportSecrets(g, ar)).To(BeEmpty())
}

// TestAccessImmutable: the API server refuses changes to what defines a request, and a
// request without json.
func TestAccessImmutable(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, "access-immutable")
	ctx := context.Background()
	csvOnly := &privacyv1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-csv", Namespace: ns},
		Spec: privacyv1alpha1.AccessRequestSpec{
			Subject: privacyv1alpha1.ErasureSubject{Type: "email", SecretRef: privacyv1alpha1.SecretKeyRef{Name: "s", Key: "value"}},
			Formats: []privacyv1alpha1.ExportFormat{privacyv1alpha1.ExportCSV},
		},
	}
	g.Expect(env.Client.Create(ctx, csvOnly)).To(MatchError(ContainSubstring("formats must include json")))

	ar := &privacyv1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-fixed", Namespace: ns},
		Spec: privacyv1alpha1.AccessRequestSpec{
			Subject: privacyv1alpha1.ErasureSubject{Type: "email", SecretRef: privacyv1alpha1.SecretKeyRef{Name: "s", Key: "value"}},
		},
	}
	g.Expect(env.Client.Create(ctx, ar)).To(Succeed())
	g.Expect(ar.Spec.Formats).To(Equal([]privacyv1alpha1.ExportFormat{privacyv1alpha1.ExportJSON}), "defaulted")
	g.Expect(ar.Spec.ExpireAfter).To(BeEquivalentTo("P30D"), "defaulted")
	refused := []struct {
		change func(*privacyv1alpha1.AccessRequestSpec)
		says   string
	}{
		{func(s *privacyv1alpha1.AccessRequestSpec) { s.Subject.Type = "phone" }, "spec.subject is immutable"},
		{func(s *privacyv1alpha1.AccessRequestSpec) {
			s.DatabaseSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, "spec.databaseSelector is immutable"},
		{func(s *privacyv1alpha1.AccessRequestSpec) {
			s.Formats = []privacyv1alpha1.ExportFormat{privacyv1alpha1.ExportJSON, privacyv1alpha1.ExportCSV}
		}, "spec.formats is immutable"},
		{func(s *privacyv1alpha1.AccessRequestSpec) { s.ExpireAfter = "P1D" }, "spec.expireAfter is immutable"},
	}
	for _, tt := range refused {
		live := &privacyv1alpha1.AccessRequest{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ar), live)).To(Succeed())
		before := live.DeepCopy()
		tt.change(&live.Spec)
		err := env.Client.Patch(ctx, live, client.MergeFrom(before))
		g.Expect(err).To(MatchError(ContainSubstring(tt.says)), tt.says)
	}
	live := &privacyv1alpha1.AccessRequest{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ar), live)).To(Succeed())
	before := live.DeepCopy()
	live.Spec.DeadlineExtension = &privacyv1alpha1.DeadlineExtension{Months: 1, Reason: "many databases"}
	g.Expect(env.Client.Patch(ctx, live, client.MergeFrom(before))).To(Succeed(), "an extension can be added once")
}

// touch changes an annotation so the controller looks at the request again.
func touch(ar *privacyv1alpha1.AccessRequest) error {
	live := &privacyv1alpha1.AccessRequest{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ar), live); err != nil {
		return err
	}
	before := live.DeepCopy()
	if live.Annotations == nil {
		live.Annotations = map[string]string{}
	}
	live.Annotations["test/touched"] = time.Now().Format(time.RFC3339Nano)
	return env.Client.Patch(context.Background(), live, client.MergeFrom(before))
}

// accessEventReasons lists the reasons of the request's Events.
func accessEventReasons(g Gomega, ar *privacyv1alpha1.AccessRequest) []string {
	list := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ar.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == ar.Name && e.Regarding.Kind == "AccessRequest" {
			out = append(out, e.Reason)
		}
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
