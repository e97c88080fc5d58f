package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/testenv"
)

const validDataMap = `
apiVersion: privacy.lethe.dev/v1alpha1
kind: DataMap
metadata: {name: booking-app, namespace: default}
spec:
  identityTypes:
    phone: {normalize: [digits]}
  tables:
  - name: customers
    primaryKey: [id]
    identifiers: {email: email, customerId: id, phone: phone}
    columns:
    - {name: email, category: contact, mask: {strategy: fakeEmail}}
    - {name: full_name, category: name, mask: {strategy: redact}}
    - {name: birth_date, category: demographic, mask: {strategy: generalize, to: year}}
    guards:
    - {name: last-admin, where: [{column: role, op: eq, value: admin}], per: [account_id]}
  - name: addresses
    primaryKey: [id]
    referencedBy: {table: customers}
    columns:
    - {name: street, category: location, mask: {strategy: redact}}
  - name: bookings
    primaryKey: [id]
    subjectVia: {table: customers, columns: [customer_id], referencedColumns: [id]}
    columns:
    - {name: ip_address, category: online-identifier, mask: {strategy: generalize, to: network}}
  - name: invoices
    primaryKey: [id]
    subjectVia: {table: customers}
    legalHold: {basis: bookkeeping-law, retainFor: P7Y, from: issued_at}
  - name: invoice_lines
    primaryKey: [invoice_id, line_no]
    subjectVia: {table: invoices}
    legalHold: {basis: bookkeeping-law, retainFor: P7Y, from: invoices.issued_at, covers: row}
  - name: legacy_notes
    primaryKey: [id]
    subjectVia: {table: customers, columns: [cust_ref], unenforced: true}
`

const validTenantDatabase = `
apiVersion: privacy.lethe.dev/v1alpha1
kind: TenantDatabase
metadata: {name: hotel-aurora, namespace: default}
spec:
  engine: postgres
  host: aurora.db.internal
  port: 5432
  database: aurora
  credentialsSecretRef: {name: aurora-db}
  dataMapRef: booking-app
`

const validRetentionPolicy = `
apiVersion: privacy.lethe.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: booking-retention, namespace: default}
spec:
  databaseSelector: {matchLabels: {app: booking}}
  schedule: "0 3 * * *"
  timeZone: Europe/Copenhagen
  rules:
  - {name: support-mail, table: support_tickets, action: delete, olderThan: P3M, column: created_at}
  - {name: inactive-customers, table: customers, action: anonymize, inactiveFor: P3Y, activity: [customers.last_login_at],
     includeOrphans: false, guards: [{name: last-admin, where: [{column: role, op: eq, value: admin}], per: [account_id], keepAtLeast: 1}]}
`

// TestAdmissionRejectsBadManifests applies manifests that are each wrong in one way and
// checks that the API server refuses them with a message a user understands.
func TestAdmissionRejectsBadManifests(t *testing.T) {
	env := testenv.Start(t)
	cases := []struct {
		name, base, edit, want string
	}{
		{"unknown engine", validTenantDatabase, `engine: mongodb`, `Unsupported value: "mongodb"`},
		{"port out of range", validTenantDatabase, `port: 70000`, `spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535`},
		{"port zero", validTenantDatabase, `port: 0`, `should be greater than or equal to 1`},
		{"database name with SQL", validTenantDatabase, `database: "aurora; DROP TABLE customers"`, `spec.database: Invalid value`},
		{"verify-full without CA", validTenantDatabase, `tls: {mode: verify-full}`, `tls.mode verify-full needs caSecretRef`},
		{"verify interval too short", validTenantDatabase, `verifyInterval: 10s`, `verifyInterval must be a duration of at least 1m`},
		{"missing DataMap reference", validTenantDatabase, `dataMapRef: ""`, `spec.dataMapRef`},
		{"table name with a quote", validDataMap, `tables: [{name: "customers\"--", primaryKey: [id], identifiers: {email: email}}]`, `spec.tables[0].name: Invalid value`},
		{"duplicate table", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: customers, primaryKey: [id], identifiers: {email: email}}]`, `spec.tables[1]: Duplicate value: {"name":"customers"}`},
		{"duplicate column", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: email, category: contact, mask: {strategy: nullify}}, {name: email, category: contact, mask: {strategy: redact}}]}]`, `spec.tables[0].columns[1]: Duplicate value: {"name":"email"}`},
		{"subjectVia to a table not in the map", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: bookings, primaryKey: [id], subjectVia: {table: clients}}]`, `subjectVia.table must name a table in this DataMap`},
		{"referencedBy from a table not in the map", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: addresses, primaryKey: [id], referencedBy: {table: clients}}]`, `referencedBy.table must name a table in this DataMap`},
		{"subjectVia columns do not pair", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: bookings, primaryKey: [id], subjectVia: {table: customers, columns: [customer_id, tenant_id], referencedColumns: [id]}}]`, `referencedColumns pair up with columns`},
		{"referencedColumns without columns", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: bookings, primaryKey: [id], subjectVia: {table: customers, referencedColumns: [id]}}]`, `referencedColumns pair up with columns`},
		{"unenforced link without columns", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: bookings, primaryKey: [id], subjectVia: {table: customers, unenforced: true}}]`, `an unenforced link has no foreign key to derive its columns from`},
		{"a self-reference as the way to the subject", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: staff, primaryKey: [id], subjectVia: {table: staff, columns: [reports_to]}}]`, `subjectVia must name another table`},
		{"table with neither identifiers nor a link", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: notes, primaryKey: [id]}]`, `a table either identifies data subjects (identifiers) or links towards a table that does (subjectVia or referencedBy)`},
		{"table with both links", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}, {name: notes, primaryKey: [id], subjectVia: {table: customers}, referencedBy: {table: customers}}]`, `give exactly one`},
		{"no subject table", validDataMap, `tables: [{name: bookings, primaryKey: [id], subjectVia: {table: bookings2}}, {name: bookings2, primaryKey: [id], subjectVia: {table: bookings}}]`, `at least one table must identify data subjects`},
		{"hold from a column that is not table.column", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, legalHold: {basis: law, retainFor: P7Y, from: "a.b.c"}}]`, `legalHold.from: Invalid value`},
		{"hold covering something unknown", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, legalHold: {basis: law, retainFor: P7Y, from: c, covers: everything}}]`, `Unsupported value: "everything"`},
		{"guard without conditions", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, guards: [{name: g, where: []}]}]`, `guards[0].where: Invalid value`},
		{"guard keeping none", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, guards: [{name: g, where: [{column: role, op: isNull}], keepAtLeast: 0}]}]`, `keepAtLeast in body should be greater than or equal to 1`},
		{"normalisation exact with others", validDataMap, `{identityTypes: {email: {normalize: [exact, lowercase]}}, tables: [{name: customers, primaryKey: [id], identifiers: {email: email}}]}`, `exact means no normalisation: it stands alone`},
		{"unknown normalisation", validDataMap, `{identityTypes: {phone: {normalize: [soundex]}}, tables: [{name: customers, primaryKey: [id], identifiers: {phone: phone}}]}`, `Unsupported value: "soundex"`},
		{"normalisation step twice", validDataMap, `{identityTypes: {phone: {normalize: [trim, trim]}}, tables: [{name: customers, primaryKey: [id], identifiers: {phone: phone}}]}`, `each normalisation step is listed once`},
		{"includeOrphans without inactiveFor", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P1Y, column: c, includeOrphans: true}]`, `includeOrphans is about rows reaching no data subject`},
		{"retention that does not parse", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, legalHold: {basis: law, retainFor: 7 years, from: created_at}}]`, `legalHold.retainFor: Invalid value: "7 years"`},
		{"empty ISO duration", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, legalHold: {basis: law, retainFor: P, from: created_at}}]`, `an ISO 8601 duration needs at least one amount`},
		{"keep on a direct identifier", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: email, category: contact, mask: {strategy: keep}}]}]`, `strategy keep would leave a direct identifier in place`},
		{"fakeEmail on a name", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: full_name, category: name, mask: {strategy: fakeEmail}}]}]`, `strategy fakeEmail is for category contact`},
		{"generalize without a target", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: birth_date, category: demographic, mask: {strategy: generalize}}]}]`, `mask.to is required with strategy generalize`},
		{"bucket without width", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: income, category: financial, mask: {strategy: generalize, to: bucket}}]}]`, `generalize to bucket or prefix needs a width greater than 0`},
		{"hash without a key", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: phone, category: contact, mask: {strategy: hash}}]}]`, `strategy hash needs hashKeySecretRef`},
		{"special category kept in a hash", validDataMap, `{hashKeySecretRef: {name: k, key: key}, tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: diagnosis, category: special, mask: {strategy: hash}}]}]}`, `special-category data (GDPR Art. 9) may only be nullified or redacted`},
		{"unknown strategy", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: email, category: contact, mask: {strategy: scramble}}]}]`, `Unsupported value: "scramble"`},
		{"schedule that is not cron", validRetentionPolicy, `schedule: "every night"`, `spec.schedule: Invalid value: "every night"`},
		{"olderThan and inactiveFor together", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P1Y, column: c, inactiveFor: P1Y, activity: [t.c]}]`, `a rule uses olderThan or inactiveFor, not both`},
		{"olderThan without a column", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P1Y}]`, `olderThan needs column`},
		{"inactiveFor without activity", validRetentionPolicy, `rules: [{name: r, table: t, action: anonymize, inactiveFor: P3Y}]`, `inactiveFor needs activity`},
		{"a rule matching every row", validRetentionPolicy, `rules: [{name: r, table: t, action: delete}]`, `a rule matching every row is refused`},
		{"columns on a delete", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, columns: [alias], where: [{column: c, op: isNull}]}]`, `columns are the columns to anonymize: only with action anonymize`},
		{"in without values", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, where: [{column: c, op: in, value: x}]}]`, `op in needs values`},
		{"eq without a value", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, where: [{column: c, op: eq}]}]`, `ops eq, ne, lt and gt need one value`},
		{"raw SQL as an operator", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, where: [{column: c, op: "= 1 OR 1=1 --", value: x}]}]`, `Unsupported value: "= 1 OR 1=1 --"`},
		{"activity that is not table.column", validRetentionPolicy, `rules: [{name: r, table: t, action: anonymize, inactiveFor: P3Y, activity: ["last_login; DROP"]}]`, `activity[0]: Invalid value`},
		{"parallelism out of range", validRetentionPolicy, `parallelism: 1000`, `spec.parallelism: Invalid value: 1000`},
		{"identity type with spaces", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {"e mail": email}}]`, `identity types are short camelCase words`},
		{"empty where", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, where: []}]`, `where: [] spares no row`},
		{"empty activity", validRetentionPolicy, `rules: [{name: r, table: t, action: anonymize, inactiveFor: P3Y, activity: []}]`, `activity: [] names no timestamp`},
		{"zero age", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P0D, column: c}]`, `a zero duration (P0D, PT0S) is refused`},
		{"zero inactivity in every unit", validRetentionPolicy, `rules: [{name: r, table: t, action: anonymize, inactiveFor: P0Y0M0W0DT0H0M0S, activity: [t.c]}]`, `a zero duration`},
		{"a hundred years and a day", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P100Y1D, column: c}]`, `longer than 100 years`},
		{"P99999Y", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P99999Y, column: c}]`, `longer than 100 years`},
		{"minutes beyond a century", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: PT52596001M, column: c}]`, `longer than 100 years`},
		{"legal hold of zero", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, legalHold: {basis: law, retainFor: PT0S, from: created_at}}]`, `a zero duration`},
		{"maxPercent zero", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P1Y, column: c, maxPercent: 0}]`, `maxPercent in body should be greater than or equal to 1`},
		{"NUL in a condition value", validRetentionPolicy, "rules: [{name: r, table: t, action: delete, where: [{column: c, op: eq, value: \"a\\u0000b\"}]}]", `spec.rules[0].where[0].value: Invalid value: "a\x00b": a condition value must not contain a NUL character`},
		{"NUL in an in list", validRetentionPolicy, "rules: [{name: r, table: t, action: delete, where: [{column: c, op: in, values: [a, \"\\u0000\"]}]}]", `spec.rules[0].where[0].values[1]: Invalid value: "\x00": a condition value must not contain a NUL character`},
		{"NUL in a redact constant", validDataMap, "tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: full_name, category: name, mask: {strategy: redact, value: \"x\\u0000\"}}]}]", `mask.value must not contain a NUL character`},
		{"30 February", validRetentionPolicy, `schedule: "0 3 30 2 *"`, `the schedule never fires`},
		{"31st of the short months", validRetentionPolicy, `schedule: "0 3 31 apr,JUN,9,11 *"`, `the schedule never fires`},
		{"hour 25", validRetentionPolicy, `schedule: "0 25 * * *"`, `the schedule's hour field is out of range`},
		{"day of week 7", validRetentionPolicy, `schedule: "0 3 * * 1-7"`, `the schedule's day-of-week field is out of range`},
		{"time zone in the schedule", validRetentionPolicy, `schedule: "TZ=Local 0 3 * *"`, `goes in spec.timeZone`},
		{"time zone Local", validRetentionPolicy, `timeZone: Local`, `timeZone Local would follow the manager Pod's zone`},
		{"selector operator", validRetentionPolicy, `databaseSelector: {matchExpressions: [{key: app, operator: Contains, values: [booking]}]}`, `operator must be In, NotIn, Exists or DoesNotExist`},
		{"selector In without values", validRetentionPolicy, `databaseSelector: {matchExpressions: [{key: app, operator: In}]}`, `In and NotIn need values`},
		{"metadata address", validTenantDatabase, `host: 169.254.169.254`, `spec.host is a link-local address`},
		{"link-local IPv6", validTenantDatabase, `host: "FE80::1"`, `spec.host is a link-local address`},
		{"AWS IPv6 metadata", validTenantDatabase, `host: "fd00:ec2:0::254"`, `spec.host is a cloud metadata endpoint`},
		{"Alibaba metadata", validTenantDatabase, `host: 100.100.100.200`, `spec.host is a cloud metadata endpoint`},
		{"GCP metadata name", validTenantDatabase, `host: Metadata.Google.Internal`, `spec.host is a cloud metadata service name`},
		{"metadata as a decimal number", validTenantDatabase, `host: "2852039166"`, `looks like an IPv4 address in another form`},
		{"metadata in hex", validTenantDatabase, `host: 0xa9.0xfe.0xa9.0xfe`, `looks like an IPv4 address in another form`},
		{"IPv4-mapped metadata", validTenantDatabase, `host: "0:0:0:0:0:ffff:a9fe:a9fe"`, `neither a host name nor a plain IP address`},
		{"port in the host", validTenantDatabase, `host: "db.internal:5432"`, `neither a host name nor a plain IP address`},
	}
	if len(cases) < 15 {
		t.Fatalf("want at least 15 cases, have %d", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := withSpecEdit(t, tc.base, tc.edit)
			err := env.Client.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API server accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not say %q:\n%v", tc.want, err)
			}
		})
	}
}

func TestAdmissionAcceptsTheExamples(t *testing.T) {
	env := testenv.Start(t)
	for _, manifest := range []string{validDataMap, validTenantDatabase, validRetentionPolicy} {
		if err := env.Client.Create(context.Background(), withSpecEdit(t, manifest, "")); err != nil {
			t.Fatalf("rejected: %v", err)
		}
	}
}

// TestAdmissionAcceptsWhatIsMerelyUnusual: the refusals above must not catch manifests
// that are odd but right.
func TestAdmissionAcceptsWhatIsMerelyUnusual(t *testing.T) {
	env := testenv.Start(t)
	cases := []struct{ name, base, edit string }{
		{"a hundred years", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P100Y, column: c}]`},
		{"a hundred years in months", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P1200M, column: c}]`},
		{"a hundred years in days", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P36525D, column: c}]`},
		{"one second", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: PT1S, column: c}]`},
		{"every row, said so", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, allRows: true}]`},
		{"a ceiling", validRetentionPolicy, `rules: [{name: r, table: t, action: delete, olderThan: P1Y, column: c, maxRows: 1000, maxPercent: 100}]`},
		{"29 February", validRetentionPolicy, `schedule: "0 3 29 2 *"`},
		{"31st of a long month", validRetentionPolicy, `schedule: "0 3 31 feb,mar *"`},
		{"30 February or any Monday", validRetentionPolicy, `schedule: "0 3 30 2 1"`},
		{"steps and ranges", validRetentionPolicy, `schedule: "*/90 1-5/2 1,15 */3 1-5"`},
		{"a descriptor", validRetentionPolicy, `schedule: "@daily"`},
		{"the shortest descriptor", validRetentionPolicy, `schedule: "@hourly"`},
		{"UTC", validRetentionPolicy, `timeZone: UTC`},
		{"selector with expressions", validRetentionPolicy, `databaseSelector: {matchExpressions: [{key: app, operator: In, values: [booking]}, {key: frozen, operator: DoesNotExist}]}`},
		{"IPv4 host", validTenantDatabase, `host: 10.20.30.40`},
		{"IPv6 host", validTenantDatabase, `host: "2001:db8::5"`},
		{"service name", validTenantDatabase, `host: pg-0.pg.tenants.svc.cluster.local`},
		{"a name that starts like metadata", validTenantDatabase, `host: metadata-db.internal`},
		{"a redact constant", validDataMap, `tables: [{name: customers, primaryKey: [id], identifiers: {email: email}, columns: [{name: full_name, category: name, mask: {strategy: redact, value: "[removed]"}}]}]`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := withSpecEdit(t, tc.base, tc.edit)
			obj.SetName(fmt.Sprintf("%s-%d", obj.GetName(), i))
			if err := env.Client.Create(context.Background(), obj); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// withSpecEdit parses a manifest and overrides top-level spec fields with the YAML edit.
func withSpecEdit(t *testing.T, manifest, edit string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatal(err)
	}
	if edit == "" {
		return obj
	}
	patch := map[string]any{}
	if err := yaml.Unmarshal([]byte(edit), &patch); err != nil {
		t.Fatalf("edit %q: %v", edit, err)
	}
	spec := obj.Object["spec"].(map[string]any)
	for k, v := range patch {
		spec[k] = v
	}
	return obj
}

// TestAPolicyAtEveryBoundIsAcceptedAndStaysSmall builds the largest RetentionPolicy the
// CRD accepts (every list at its longest, every string at its longest, the conditions'
// values at the policy's total of 256) and checks that the API server takes it and that it is far from
// the megabytes the bounds once allowed: the plan built from it leaves a ConfigMap room
// for the DataMap.
func TestAPolicyAtEveryBoundIsAcceptedAndStaysSmall(t *testing.T) {
	env := testenv.Start(t)
	name := func(prefix string, i int) string {
		return fmt.Sprintf("%s%03d%s", prefix, i, strings.Repeat("x", 63-len(prefix)-3))
	}
	var rules []any
	for i := range 32 {
		var columns, activity []any
		for j := range 64 {
			columns = append(columns, name("c", j))
		}
		for j := range 16 {
			activity = append(activity, name("t", j)+"."+name("a", j))
		}
		// 8 conditions of one value each, in 32 rules: the policy's 256 values.
		var where []any
		for j := range 8 {
			where = append(where, map[string]any{"column": name("w", j), "op": "eq", "value": strings.Repeat("v", 128)})
		}
		rules = append(rules, map[string]any{
			"name": fmt.Sprintf("rule-%02d-%s", i, strings.Repeat("r", 55)), "table": name("t", i), "action": "anonymize",
			"columns": columns, "inactiveFor": "P99Y11M1DT23H59M59S", "activity": activity, "where": where,
			"maxRows": int64(1) << 62, "maxPercent": 100,
		})
	}
	obj := withSpecEdit(t, validRetentionPolicy, "")
	spec := obj.Object["spec"].(map[string]any)
	spec["rules"] = rules
	spec["timeZone"] = "America/Argentina/ComodRivadavia"
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("the policy at every bound is refused: %v", err)
	}
	b, _ := json.Marshal(obj.Object["spec"])
	t.Logf("the largest RetentionPolicy spec is %d bytes", len(b))
	if len(b) > 400<<10 {
		t.Errorf("the largest RetentionPolicy spec is %d bytes, more than 400 KiB", len(b))
	}
}

// TestAdmissionRefusesEveryHostTheWorkerRefuses: the CRD's rules list the cloud metadata
// names and addresses again, in CEL; each one the worker refuses must be refused here too.
func TestAdmissionRefusesEveryHostTheWorkerRefuses(t *testing.T) {
	env := testenv.Start(t)
	hosts := append([]string{}, engine.MetadataNames...)
	for _, a := range engine.MetadataAddresses {
		hosts = append(hosts, a.String())
	}
	for i, host := range hosts {
		obj := withSpecEdit(t, validTenantDatabase, fmt.Sprintf("host: %q", host))
		obj.SetName(fmt.Sprintf("host-%d", i))
		err := env.Client.Create(context.Background(), obj, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "spec.host is") {
			t.Errorf("host %s: the API server says %v", host, err)
		}
	}
}
