package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/duration"
)

// inactiveCustomer is the inactivity condition of the sample's inactiveFor rules in plain
// SQL: no login and no booking after $1.
const inactiveCustomer = `NOT coalesce(c.last_login_at > $1, false)
	AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.customer_id = c.id AND b.created_at > $1)`

// ruleSQL counts, in plain SQL written independently of Lethe, the rows each rule of the
// sample policy covers that still hold personal data: rows to delete, or rows whose
// columns are not masked yet. $1 is the rule's cutoff. Rules not listed here are shown
// with Lethe's figures only.
var ruleSQL = map[string]string{
	"inactive-customers": `SELECT count(*) FROM customers c WHERE ` + inactiveCustomer + `
		AND c.full_name IS DISTINCT FROM 'REDACTED'`,
	"invoices-of-inactive": `SELECT count(*) FROM invoices i JOIN customers c ON c.id = i.customer_id
		WHERE ` + inactiveCustomer + ` AND i.billing_name IS DISTINCT FROM 'REDACTED'`,
	"old-invoices":          `SELECT count(*) FROM invoices WHERE issued_at < $1 AND billing_name IS DISTINCT FROM 'REDACTED'`,
	"support-mail":          `SELECT count(*) FROM support_tickets WHERE created_at < $1`,
	"contact-forms":         `SELECT count(*) FROM contact_requests WHERE created_at < $1`,
	"alias-without-consent": `SELECT count(*) FROM accounts WHERE NOT alias_consent AND alias IS DISTINCT FROM 'REDACTED'`,
}

// cutoff is the time a rule's age or inactivity is measured against, from ref.
func cutoff(rule privacyv1alpha1.RetentionRule, ref time.Time) (time.Time, error) {
	text := string(rule.OlderThan)
	if text == "" {
		text = string(rule.InactiveFor)
	}
	if text == "" {
		return ref, nil
	}
	d, err := duration.Parse(text)
	if err != nil {
		return time.Time{}, err
	}
	return d.SubtractFrom(ref), nil
}

// ruleCounts runs ruleSQL for every rule of the policy; -1 marks a rule it cannot count.
func (b *bookingDB) ruleCounts(ctx context.Context, policy *privacyv1alpha1.RetentionPolicy) (map[string]int64, error) {
	out := map[string]int64{}
	for _, rule := range policy.Spec.Rules {
		query, ok := ruleSQL[rule.Name]
		if !ok {
			out[rule.Name] = -1
			continue
		}
		at, err := cutoff(rule, b.ref)
		if err != nil {
			return nil, err
		}
		var args []any
		if strings.Contains(query, "$1") {
			args = append(args, at)
		}
		var n int64
		if err := b.db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			return nil, fmt.Errorf("counting rule %s: %w", rule.Name, err)
		}
		out[rule.Name] = n
	}
	return out, nil
}

// retention counts, asks the sample RetentionPolicy for a run now, waits for it, counts
// again and prints both next to what Lethe reported.
func (d *demo) retention(ctx context.Context) error {
	policy := &privacyv1alpha1.RetentionPolicy{}
	key := client.ObjectKey{Namespace: namespace, Name: "booking-retention"}
	if err := d.client.Get(ctx, key, policy); err != nil {
		return err
	}
	d.progress.step("counting, with plain SQL, the rows each retention rule covers")
	rulesBefore, err := d.booking.ruleCounts(ctx, policy)
	if err != nil {
		return err
	}
	tablesBefore, err := d.booking.tableCounts(ctx)
	if err != nil {
		return err
	}

	run, err := d.runNow(ctx, policy, fmt.Sprintf("demo-%d", time.Now().Unix()))
	if err != nil {
		return err
	}
	if run.Result == privacyv1alpha1.RunFailed && strings.Contains(fmt.Sprint(run.Databases), "deleted before it finished") {
		// The controller can read its own new Job from a cache that has not seen it yet
		// and take it for deleted; ask once more.
		d.printf("Retention run %q: %s (%s); asking for another run.\n\n", run.Trigger, run.Result, failures(run))
		if run, err = d.runNow(ctx, policy, fmt.Sprintf("demo-%d-again", time.Now().Unix())); err != nil {
			return err
		}
	}
	rulesAfter, err := d.booking.ruleCounts(ctx, policy)
	if err != nil {
		return err
	}
	tablesAfter, err := d.booking.tableCounts(ctx)
	if err != nil {
		return err
	}

	d.printf("== Retention: RetentionPolicy booking-retention, run %q on TenantDatabase hotel-aurora: %s, %d rows\n\n",
		run.Trigger, run.Result, run.Rows)
	reported := map[string][]string{}
	for _, db := range run.Databases {
		if db.Result != privacyv1alpha1.RunSucceeded {
			reported["*"] = append(reported["*"], fmt.Sprintf("%s: %s %s", db.Database, db.Result, db.Message))
		}
		for _, r := range db.Rules {
			text := fmt.Sprintf("%s %d", r.Outcome, r.Rows)
			if r.RetainedUntil != nil {
				text += " until " + r.RetainedUntil.UTC().Format(time.DateOnly)
			}
			reported[r.Rule] = append(reported[r.Rule], text)
		}
	}
	t := newTable("RULE", "TABLE", "ACTION", "CONDITION", "ROWS BEFORE", "ROWS AFTER", "LETHE REPORTED")
	for _, rule := range policy.Spec.Rules {
		t.row(rule.Name, string(rule.Table), string(rule.Action), describeRule(rule),
			count(rulesBefore[rule.Name]), count(rulesAfter[rule.Name]), strings.Join(reported[rule.Name], ", "))
	}
	t.write(d.out)
	for _, msg := range reported["*"] {
		d.printf("  ! %s\n", msg)
	}
	d.printf("\n  ROWS BEFORE/AFTER: rows matching the rule's condition that still hold personal data\n" +
		"  (not masked yet, or not deleted yet), counted with plain SQL before and after the run.\n" +
		"  Invoices younger than seven years stay as they are: the DataMap's bookkeeping-law hold.\n\n")
	t = newTable("TABLE", "ROWS BEFORE", "ROWS AFTER")
	for _, name := range bookingTables {
		t.row(name, count(tablesBefore[name]), count(tablesAfter[name]))
	}
	t.write(d.out)
	d.printf("\n")
	if run.Result != privacyv1alpha1.RunSucceeded {
		return fmt.Errorf("the run %s: %s", run.Result, failures(run))
	}
	return nil
}

// runNow sets the run-now annotation to trigger and waits for that run to finish.
func (d *demo) runNow(ctx context.Context, policy *privacyv1alpha1.RetentionPolicy, trigger string) (privacyv1alpha1.Run, error) {
	d.progress.step("retention: annotating RetentionPolicy booking-retention with " + privacyv1alpha1.RunNowAnnotation + "=" + trigger)
	if err := d.patch(ctx, policy, func() {
		anns := policy.GetAnnotations()
		if anns == nil {
			anns = map[string]string{}
		}
		anns[privacyv1alpha1.RunNowAnnotation] = trigger
		policy.SetAnnotations(anns)
	}); err != nil {
		return privacyv1alpha1.Run{}, err
	}
	d.progress.step("retention: waiting for the run's Job (`lethe worker` anonymizing and deleting in batches)")
	var run privacyv1alpha1.Run
	err := d.waitFor(ctx, 2*time.Minute, "the retention run", func() (bool, error) {
		if err := d.client.Get(ctx, client.ObjectKeyFromObject(policy), policy); err != nil {
			return false, err
		}
		if policy.Status.Current != nil || len(policy.Status.History) == 0 || policy.Status.History[0].Trigger != "run-now:"+trigger {
			return false, nil
		}
		run = policy.Status.History[0]
		return true, nil
	})
	return run, err
}

func failures(run privacyv1alpha1.Run) string {
	var msgs []string
	for _, db := range run.Databases {
		if db.Result != privacyv1alpha1.RunSucceeded {
			msgs = append(msgs, db.Database+": "+db.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

func describeRule(r privacyv1alpha1.RetentionRule) string {
	var parts []string
	if r.OlderThan != "" {
		parts = append(parts, fmt.Sprintf("%s older than %s", r.Column, r.OlderThan))
	}
	if r.InactiveFor != "" {
		parts = append(parts, fmt.Sprintf("inactive for %s", r.InactiveFor))
	}
	for _, w := range r.Where {
		v := ""
		if w.Value != nil {
			v = " " + string(*w.Value)
		}
		parts = append(parts, fmt.Sprintf("%s %s%s", w.Column, w.Op, v))
	}
	return strings.Join(parts, ", ")
}

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}
