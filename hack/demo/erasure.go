package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// subject is the customer whose erasure the demo requests.
type subject struct {
	id    int64
	email string
}

// subjectTables counts, per table, the rows linked to the subject ($1, the customer id)
// and those still holding the subject's e-mail ($2), name, alias or full IP address
// (generalized to its network, the last octet is 0).
var subjectTables = []struct{ table, rows, identifying string }{
	{"customers", `SELECT count(*) FROM customers WHERE id = $1`,
		`SELECT count(*) FROM customers WHERE id = $1 AND (email = $2 OR full_name = 'Guest Nummer ' || $1::text)`},
	{"accounts", `SELECT count(*) FROM accounts WHERE customer_id = $1`,
		`SELECT count(*) FROM accounts WHERE customer_id = $1 AND alias = 'traveller-' || $1::text`},
	{"bookings", `SELECT count(*) FROM bookings WHERE customer_id = $1`,
		`SELECT count(*) FROM bookings WHERE customer_id = $1 AND host(ip_address) !~ '[.]0$'`},
	{"invoices", `SELECT count(*) FROM invoices WHERE customer_id = $1`,
		`SELECT count(*) FROM invoices WHERE customer_id = $1 AND billing_name = 'Guest Nummer ' || $1::text`},
	{"support_tickets", `SELECT count(*) FROM support_tickets WHERE customer_id = $1`,
		`SELECT count(*) FROM support_tickets WHERE customer_id = $1`},
}

// pickSubject finds a recently active customer with bookings, invoices under the
// bookkeeping hold and support mail: one whose erasure shows every outcome.
func (b *bookingDB) pickSubject(ctx context.Context) (subject, error) {
	var s subject
	err := b.db.QueryRowContext(ctx, `
		SELECT c.id, c.email FROM customers c
		WHERE c.last_login_at > $1::timestamptz - interval '90 days'
		  AND (SELECT count(*) FROM bookings b WHERE b.customer_id = c.id) >= 2
		  AND EXISTS (SELECT 1 FROM invoices i WHERE i.customer_id = c.id)
		  AND EXISTS (SELECT 1 FROM support_tickets t WHERE t.customer_id = c.id)
		ORDER BY c.id LIMIT 1`, b.ref).Scan(&s.id, &s.email)
	if err != nil {
		return s, fmt.Errorf("choosing the erasure subject: %w", err)
	}
	return s, nil
}

// subjectCounts counts the subject's rows per table, and those still identifying them.
func (b *bookingDB) subjectCounts(ctx context.Context, s subject) (rows, identifying map[string]int64, err error) {
	rows, identifying = map[string]int64{}, map[string]int64{}
	for _, t := range subjectTables {
		var n, m int64
		if err := b.db.QueryRowContext(ctx, t.rows, s.id).Scan(&n); err != nil {
			return nil, nil, err
		}
		args := []any{s.id}
		if strings.Contains(t.identifying, "$2") {
			args = append(args, s.email)
		}
		if err := b.db.QueryRowContext(ctx, t.identifying, args...).Scan(&m); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", t.table, err)
		}
		rows[t.table], identifying[t.table] = n, m
	}
	return rows, identifying, nil
}

// erasure files the sample ErasureRequest for one customer (the e-mail in a Secret),
// waits for its preview, approves it as a second person would, waits for it to complete
// and prints the outcome and the receipt.
func (d *demo) erasure(ctx context.Context) error {
	if d.erasureSample == nil {
		return fmt.Errorf("config/samples has no ErasureRequest")
	}
	s, err := d.booking.pickSubject(ctx)
	if err != nil {
		return err
	}
	rowsBefore, idBefore, err := d.booking.subjectCounts(ctx, s)
	if err != nil {
		return err
	}
	sample := d.erasureSample
	spec := sample.Object["spec"].(map[string]any)
	ref := spec["subject"].(map[string]any)["secretRef"].(map[string]any)
	secretName, secretKey := ref["name"].(string), ref["key"].(string)

	d.progress.step(fmt.Sprintf("erasure: Secret %s holds the subject's e-mail; filing ErasureRequest %s", secretName, sample.GetName()))
	if err := d.client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: namespace},
		Data:       map[string][]byte{secretKey: []byte(s.email)},
	}); err != nil {
		return err
	}
	if err := d.create(ctx, sample.DeepCopy()); err != nil {
		return err
	}
	er := &privacyv1alpha1.ErasureRequest{}
	key := client.ObjectKey{Namespace: namespace, Name: sample.GetName()}

	d.printf("== Erasure: ErasureRequest %s for customer %d (e-mail %s, in Secret %s only)\n\n",
		key.Name, s.id, s.email, secretName)

	if err := d.client.Get(ctx, key, er); err != nil {
		return err
	}
	if er.Spec.Approval != nil && er.Spec.Approval.Required {
		d.progress.step("erasure: waiting for the preview Job (counts only, nothing changes before approval)")
		if err := d.waitFor(ctx, 90*time.Second, "the preview (AwaitingApproval)", func() (bool, error) {
			if err := d.client.Get(ctx, key, er); err != nil {
				return false, err
			}
			if err := stuck(er); err != nil {
				return false, err
			}
			return meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionAwaitingApproval), nil
		}); err != nil {
			d.printRequest(er)
			return err
		}
		d.printf("Preview (phase %s; fingerprint %s):\n", er.Status.Phase, er.Status.SubjectFingerprint)
		d.printTargets(er)
		d.progress.step("erasure: approving (spec.approval.approved: true), as the second pair of eyes")
		if err := d.patch(ctx, er, func() { er.Spec.Approval.Approved = true }); err != nil {
			return err
		}
		d.printf("\nApproved: spec.approval.approved set to true by someone other than the requester.\n\n")
	}
	d.progress.step("erasure: waiting for the erasure Job and its post-erasure check")
	if err := d.waitFor(ctx, 90*time.Second, "the ErasureRequest to be Complete", func() (bool, error) {
		if err := d.client.Get(ctx, key, er); err != nil {
			return false, err
		}
		if err := stuck(er); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionComplete), nil
	}); err != nil {
		d.printRequest(er)
		return err
	}
	d.printRequest(er)

	rowsAfter, idAfter, err := d.booking.subjectCounts(ctx, s)
	if err != nil {
		return err
	}
	d.printf("\nChecked with plain SQL in the database:\n")
	t := newTable("TABLE", "SUBJECT'S ROWS BEFORE", "AFTER", "STILL IDENTIFYING BEFORE", "AFTER")
	for _, st := range subjectTables {
		t.row(st.table, count(rowsBefore[st.table]), count(rowsAfter[st.table]), count(idBefore[st.table]), count(idAfter[st.table]))
	}
	t.write(d.out)
	var emailLeft int64
	if err := d.booking.db.QueryRowContext(ctx, `SELECT count(*) FROM customers WHERE email = $1`, s.email).Scan(&emailLeft); err != nil {
		return err
	}
	d.printf("\n  customers with e-mail %s: %d. Invoices still naming the subject are kept under the\n"+
		"  bookkeeping-law hold until the date in the receipt, then the retention policy anonymizes them.\n\n", s.email, emailLeft)
	return nil
}

// stuck turns a request's terminal states into an error.
func stuck(er *privacyv1alpha1.ErasureRequest) error {
	switch er.Status.Phase {
	case privacyv1alpha1.ErasureFailed, privacyv1alpha1.ErasureNeedsInformation:
		return fmt.Errorf("ErasureRequest %s is %s", er.Name, er.Status.Phase)
	}
	if c := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		return fmt.Errorf("ErasureRequest %s is Stalled: %s: %s", er.Name, c.Reason, c.Message)
	}
	return nil
}

// printRequest prints the request's phase, conditions, per-database outcomes and receipt.
func (d *demo) printRequest(er *privacyv1alpha1.ErasureRequest) {
	deadline := ""
	if er.Status.Deadline != nil {
		deadline = er.Status.Deadline.UTC().Format(time.RFC3339)
	}
	d.printf("Status: phase %s, databases %s, deadline %s\n", er.Status.Phase, er.Status.Databases, deadline)
	t := newTable("CONDITION", "STATUS", "REASON", "MESSAGE")
	for _, c := range er.Status.Conditions {
		t.row(c.Type, string(c.Status), c.Reason, clip(c.Message, 90))
	}
	t.write(d.out)
	d.printf("\nOutcome per database and table:\n")
	d.printTargets(er)
	if r := er.Status.Receipt; r != nil {
		d.printf("\nReceipt: %s, completed %s\n", r.Digest, r.CompletedAt.UTC().Format(time.RFC3339))
		var doc any
		if err := json.Unmarshal([]byte(r.Document), &doc); err == nil {
			b, _ := json.MarshalIndent(doc, "  ", "  ")
			d.printf("  %s\n", b)
		} else {
			d.printf("  %s\n", r.Document)
		}
	}
}

func (d *demo) printTargets(er *privacyv1alpha1.ErasureRequest) {
	t := newTable("DATABASE", "STATE", "TABLE", "OUTCOME", "ROWS", "RETAINED UNTIL", "COVERED BY")
	for _, target := range er.Status.Targets {
		if len(target.Tables) == 0 {
			t.row(target.Database, string(target.State), "", "", "", "", clip(target.Message, 60))
		}
		for _, tb := range target.Tables {
			until := ""
			if tb.RetainedUntil != nil {
				until = tb.RetainedUntil.UTC().Format(time.DateOnly)
			}
			covered := tb.CoveredBy
			if tb.Warning != "" {
				covered = strings.TrimSpace(covered + " " + tb.Warning)
			}
			t.row(target.Database, string(target.State), tb.Name, tb.Outcome, fmt.Sprint(tb.Rows), until, covered)
		}
	}
	t.write(d.out)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
