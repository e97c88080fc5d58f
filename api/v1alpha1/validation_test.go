package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

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
