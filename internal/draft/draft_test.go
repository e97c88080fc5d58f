package draft_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/testdb"
	"github.com/lethe-operator/lethe/internal/worker"
)

// link is a subjectVia as the draft writes it.
type link struct {
	columns, parent, parentColumns string
}

func linkOf(t privacyv1alpha1.Table) *link {
	if t.SubjectVia == nil {
		return nil
	}
	join := func(ids []privacyv1alpha1.Identifier) string {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = string(id)
		}
		return strings.Join(s, ",")
	}
	return &link{join(t.SubjectVia.Columns), string(t.SubjectVia.References.Table), join(t.SubjectVia.References.Columns)}
}

func tableOf(dm *privacyv1alpha1.DataMap, name string) (privacyv1alpha1.Table, bool) {
	for _, t := range dm.Spec.Tables {
		if string(t.Name) == name {
			return t, true
		}
	}
	return privacyv1alpha1.Table{}, false
}

// mask is a column as the draft proposes it: category and strategy (and target).
func maskOf(t privacyv1alpha1.Table, column string) string {
	for _, c := range t.Columns {
		if string(c.Name) == column {
			s := string(c.Category) + " " + string(c.Mask.Strategy)
			if c.Mask.To != "" {
				s += " " + c.Mask.To
			}
			return s
		}
	}
	return ""
}

// The shop schema's draft: the subject tables, every link a foreign key, categories and
// masks that fit the columns, tables without personal data listed and left out.
func TestDraftOfAShopSchema(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			db := newDatabase(t, e, testdb.ShopSchema(e))
			doc := db.draft()
			dm := parse(t, doc)

			var subjects []string
			for _, tb := range dm.Spec.Tables {
				if len(tb.Identifiers) > 0 {
					subjects = append(subjects, string(tb.Name))
				}
			}
			slices.Sort(subjects)
			if want := []string{"customers", "login_attempts", "newsletter_subscribers", "staff"}; !slices.Equal(subjects, want) {
				t.Errorf("subject tables = %v, want %v", subjects, want)
			}
			customers, _ := tableOf(dm, "customers")
			if got := customers.Identifiers; string(got["email"]) != "email" || string(got["customerId"]) != "id" {
				t.Errorf("customers' identifiers = %v, want email: email, customerId: id", got)
			}

			links := map[string]link{
				"customer_emails": {"customer_id", "customers", "id"},
				"CustomerNotes":   {"CustomerId", "customers", "id"},
				"orders":          {"customer_id", "customers", "id"},
				"order_lines":     {"order_id,shop_id", "orders", "id,shop_id"}, // a composite foreign key
				"payments":        {"order_id", "orders", "id"},
				"refunds":         {"payment_id", "payments", "id"},
				"invoices":        {"order_id", "orders", "id"},
				"sessions":        {"customer_id", "customers", "id"},
				"support_tickets": {"customer_id", "customers", "id"},
				// NOT NULL first: a message belongs to its ticket, not to a staff author.
				"ticket_messages": {"ticket_id", "support_tickets", "id"},
				"reviews":         {"customer_id", "customers", "id"},
				"gift_cards":      {"purchaser_id", "customers", "id"},
				"staff_documents": {"staff_id", "staff", "id"},
			}
			for table, want := range links {
				tb, ok := tableOf(dm, table)
				if !ok {
					t.Errorf("table %s is not in the draft", table)
					continue
				}
				if got := linkOf(tb); got == nil || *got != want {
					t.Errorf("%s: subjectVia = %+v, want %+v", table, got, want)
				}
			}

			masks := map[string]string{
				"customers.email":                   "contact fakeEmail",
				"customers.full_name":               "name redact",
				"customers.birth_date":              "demographic generalize year",
				"customers.phone":                   "contact redact",
				"customers.signup_ip":               "online-identifier generalize network",
				"customer_emails.email":             "contact fakeEmail",
				"CustomerNotes.Body":                "free-text redact",
				"staff.email":                       "contact fakeEmail",
				"staff.first_name":                  "name redact",
				"staff_documents.national_id":       "identifier hash", // unique: redact would collide
				"staff_documents.passport_number":   "identifier redact",
				"orders.delivery_instructions":      "free-text redact",
				"order_lines.gift_message":          "free-text redact",
				"payments.cardholder_name":          "name redact",
				"payments.iban":                     "financial redact",
				"invoices.billing_address":          "location redact",
				"sessions.ip_address":               "online-identifier generalize network",
				"sessions.user_agent":               "online-identifier redact",
				"reviews.comment":                   "free-text redact",
				"gift_cards.recipient_email":        "contact fakeEmail",
				"newsletter_subscribers.consent_ip": "online-identifier generalize network",
				"login_attempts.email":              "contact fakeEmail",
			}
			for col, want := range masks {
				table, column, _ := strings.Cut(col, ".")
				tb, _ := tableOf(dm, table)
				if got := maskOf(tb, column); got != want {
					t.Errorf("%s: %q, want %q", col, got, want)
				}
			}
			if dm.Spec.HashKeySecretRef == nil {
				t.Error("the draft masks with hash but names no hashKeySecretRef")
			}
			// Key and foreign-key columns are never masked.
			for _, col := range []string{"customers.id", "customers.address_id", "customers.account_manager_id",
				"staff.reports_to", "staff.shop_id", "order_lines.order_id", "sessions.id", "gift_cards.code"} {
				table, column, _ := strings.Cut(col, ".")
				tb, _ := tableOf(dm, table)
				if got := maskOf(tb, column); got != "" {
					t.Errorf("key column %s is masked: %s", col, got)
				}
			}

			text := string(doc)
			for _, plain := range []string{"countries", "currencies", "schema_migrations", "settings", "categories",
				"products", "product_images", "suppliers", "product_suppliers", "warehouses", "stock_levels",
				"invoice_lines", "wishlists", "wishlist_items", "loyalty_accounts"} {
				if _, ok := tableOf(dm, plain); ok {
					t.Errorf("table %s, without personal data, is in the draft", plain)
				}
				if !listed(text, "Tables without personal data", plain) {
					t.Errorf("table %s is not listed among the tables without personal data:\n%s", plain, text)
				}
			}
			// Personal rows the subject's row refers to: candidate links, named.
			if !listed(text, "Tables with personal-looking columns", "addresses: holds what looks personal (street, postcode, phone)") ||
				!strings.Contains(text, "referenced by customers.address_id") {
				t.Errorf("addresses is not listed with the customers.address_id candidate link:\n%s", text)
			}
			for _, table := range []string{"page_views", "order-exports"} {
				if !listed(text, "Tables a DataMap cannot describe", table) {
					t.Errorf("%s is not listed among the tables a DataMap cannot describe:\n%s", table, text)
				}
			}
			if !strings.Contains(text, "refers to this table itself") {
				t.Errorf("staff.reports_to, a self-reference, is not mentioned:\n%s", text)
			}
			if seen := fmt.Sprintf("%d tables seen", len(testdb.ShopSchema(e))); !strings.Contains(text, seen) {
				t.Errorf("the header does not say %q:\n%s", seen, text)
			}
			checkGuessesMarked(t, doc)
		})
	}
}

// listed says whether the footer section starting with title has a line starting with entry.
func listed(doc, title, entry string) bool {
	_, section, ok := strings.Cut(doc, "# "+title)
	if !ok {
		return false
	}
	for _, line := range strings.Split(section, "\n")[1:] {
		if !strings.HasPrefix(line, "#   ") {
			return false
		}
		if strings.HasPrefix(strings.TrimPrefix(line, "#   "), entry) {
			return true
		}
	}
	return false
}

// checkGuessesMarked checks that every guess carries a "guess:" comment: each column,
// each subject table and its identifiers; and that every subjectVia names its foreign key.
func checkGuessesMarked(t *testing.T, doc []byte) {
	t.Helper()
	root := commentedNodes(t, doc)
	guesses := 0
	for _, tb := range field(field(root, "spec"), "tables").Content {
		name := field(tb, "name")
		if ids := field(tb, "identifiers"); ids != nil {
			guesses += 2
			if !strings.HasPrefix(name.LineComment, "# guess: holds the data subjects") || !strings.HasPrefix(ids.LineComment, "# guess:") {
				t.Errorf("subject table %s: the table or its identifiers are not marked as guesses", name.Value)
			}
		}
		if via := field(tb, "subjectVia"); via != nil {
			if !strings.HasPrefix(via.LineComment, "# foreign key ") {
				t.Errorf("%s: subjectVia names no foreign key: %q", name.Value, via.LineComment)
			}
			if strings.Contains(via.LineComment, "guess:") {
				guesses++
			}
		}
		if cols := field(tb, "columns"); cols != nil {
			for _, c := range cols.Content {
				guesses++
				if !strings.HasPrefix(c.LineComment, "# guess: ") {
					t.Errorf("%s.%s is not marked as a guess", name.Value, field(c, "name").Value)
				}
			}
		}
	}
	if ref := field(field(root, "spec"), "hashKeySecretRef"); ref != nil {
		guesses++
	}
	if header, _, _ := strings.Cut(string(doc), "apiVersion:"); !strings.Contains(header, fmt.Sprintf("%d guesses to review", guesses)) {
		t.Errorf("the header does not count the %d guesses marked:\n%s", guesses, header)
	}
}

// The draft of a schema passes Lethe's own verification of that schema: the masks fit
// the columns (fakeEmail where unique, nullify only where nullable, nothing on keys).
func TestDraftVerifiesClean(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			db := newDatabase(t, e, testdb.ShopSchema(e))
			dm := parse(t, db.draft())
			r := db.verify(dm)
			if !r.Succeeded || len(r.Mismatches) > 0 {
				t.Fatalf("the draft does not verify: %+v", r)
			}
		})
	}
}

// A 200-table schema drafts whole: every table is in the DataMap or listed, and the YAML
// fits the ConfigMap the worker publishes it in.
func TestDraftOfAWideSchema(t *testing.T) {
	const tables = 200
	db := newDatabase(t, testdb.Postgres, testdb.WideSchema(testdb.Postgres, tables))
	doc := db.draft()
	dm := parse(t, doc)
	t.Logf("%d tables: %d bytes of YAML, %d tables described", tables, len(doc), len(dm.Spec.Tables))
	if len(doc) > worker.MaxDraftBytes {
		t.Fatalf("the draft is %d bytes, more than a ConfigMap holds (%d)", len(doc), worker.MaxDraftBytes)
	}
	text := string(doc)
	for i := 1; i < tables; i++ {
		var name string
		switch i % 4 {
		case 1:
			name = fmt.Sprintf("module%03d_profiles", i)
		case 2:
			name = fmt.Sprintf("module%03d_events", i)
		case 3:
			name = fmt.Sprintf("module%03d_event_details", i)
		default:
			name = fmt.Sprintf("module%03d_codes", i)
			if !listed(text, "Tables without personal data", name) {
				t.Errorf("%s is not listed among the tables without personal data", name)
			}
			continue
		}
		tb, ok := tableOf(dm, name)
		if !ok || tb.SubjectVia == nil {
			t.Errorf("%s is not in the draft with a link", name)
		}
	}
	if !strings.Contains(text, "200 tables seen") || !strings.Contains(text, "WARNING: a DataMap takes at most 64 tables") {
		t.Errorf("the header does not count the tables or warn of the DataMap's limit:\n%s", text[:min(len(text), 2000)])
	}
	if r := db.verify(dm); len(r.Mismatches) > 0 {
		t.Errorf("the wide draft does not verify: %v", r.Mismatches[0])
	}
}
