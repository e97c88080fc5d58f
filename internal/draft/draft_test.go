package draft_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lethe-operator/lethe/internal/draft"
	"github.com/lethe-operator/lethe/internal/testdb"
	"github.com/lethe-operator/lethe/internal/worker"
)

// link is a table's link as the draft writes it.
type link struct {
	key, columns, table, referencedColumns string
}

// tables reads the draft's tables as plain maps.
func tables(t *testing.T, doc []byte) map[string]map[string]any {
	t.Helper()
	var dm struct {
		Spec struct {
			Tables []map[string]any `json:"tables"`
		} `json:"spec"`
	}
	if err := sigsyaml.Unmarshal(doc, &dm); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, tb := range dm.Spec.Tables {
		out[tb["name"].(string)] = tb
	}
	return out
}

func joined(v any) string {
	var s []string
	for _, x := range v.([]any) {
		s = append(s, x.(string))
	}
	return strings.Join(s, ",")
}

func linkOf(tb map[string]any) *link {
	for _, key := range []string{"subjectVia", "referencedBy"} {
		l, ok := tb[key].(map[string]any)
		if !ok {
			continue
		}
		return &link{key, joined(l["columns"]), l["table"].(string), joined(l["referencedColumns"])}
	}
	return nil
}

// maskOf is a column as the draft proposes it: category and strategy (and target).
func maskOf(tb map[string]any, column string) string {
	cols, _ := tb["columns"].([]any)
	for _, c := range cols {
		c := c.(map[string]any)
		if c["name"] == column {
			m := c["mask"].(map[string]any)
			s := c["category"].(string) + " " + m["strategy"].(string)
			if to, ok := m["to"].(string); ok {
				s += " " + to
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
			dm := tables(t, doc)

			var subjects []string
			for name, tb := range dm {
				if tb["identifiers"] != nil {
					subjects = append(subjects, name)
				}
			}
			slices.Sort(subjects)
			if want := []string{"customers", "login_attempts", "newsletter_subscribers", "staff"}; !slices.Equal(subjects, want) {
				t.Errorf("subject tables = %v, want %v", subjects, want)
			}
			if got := dm["customers"]["identifiers"]; !reflect.DeepEqual(got, map[string]any{"email": "email", "customerId": "id"}) {
				t.Errorf("customers' identifiers = %v, want email: email, customerId: id", got)
			}

			links := map[string]link{
				"customer_emails": {"subjectVia", "customer_id", "customers", "id"},
				"CustomerNotes":   {"subjectVia", "CustomerId", "customers", "id"},
				"orders":          {"subjectVia", "customer_id", "customers", "id"},
				"order_lines":     {"subjectVia", "order_id,shop_id", "orders", "id,shop_id"}, // a composite foreign key
				"payments":        {"subjectVia", "order_id", "orders", "id"},
				"refunds":         {"subjectVia", "payment_id", "payments", "id"},
				"invoices":        {"subjectVia", "order_id", "orders", "id"},
				"sessions":        {"subjectVia", "customer_id", "customers", "id"},
				"support_tickets": {"subjectVia", "customer_id", "customers", "id"},
				// NOT NULL first: a message belongs to its ticket, not to a staff author.
				"ticket_messages": {"subjectVia", "ticket_id", "support_tickets", "id"},
				"reviews":         {"subjectVia", "customer_id", "customers", "id"},
				"gift_cards":      {"subjectVia", "purchaser_id", "customers", "id"},
				"staff_documents": {"subjectVia", "staff_id", "staff", "id"},
			}
			// The customer's row refers to an address: a link the other way.
			links["addresses"] = link{"referencedBy", "address_id", "customers", "id"}
			for table, want := range links {
				tb, ok := dm[table]
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
				if got := maskOf(dm[table], column); got != want {
					t.Errorf("%s: %q, want %q", col, got, want)
				}
			}
			if parse(t, doc).Spec.HashKeySecretRef == nil {
				t.Error("the draft masks with hash but names no hashKeySecretRef")
			}
			// Key and foreign-key columns are never masked.
			for _, col := range []string{"customers.id", "customers.address_id", "customers.account_manager_id",
				"staff.reports_to", "staff.shop_id", "order_lines.order_id", "sessions.id", "gift_cards.code"} {
				table, column, _ := strings.Cut(col, ".")
				if got := maskOf(dm[table], column); got != "" {
					t.Errorf("key column %s is masked: %s", col, got)
				}
			}

			text := string(doc)
			for _, plain := range []string{"countries", "currencies", "schema_migrations", "settings", "categories",
				"products", "product_images", "suppliers", "product_suppliers", "warehouses", "stock_levels",
				"invoice_lines", "wishlists", "wishlist_items", "loyalty_accounts"} {
				if _, ok := dm[plain]; ok {
					t.Errorf("table %s, without personal data, is in the draft", plain)
				}
				if !listed(text, "Tables without personal data", plain) {
					t.Errorf("table %s is not listed among the tables without personal data:\n%s", plain, text)
				}
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
// each subject table and its identifiers; and that every link names its foreign key.
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
		for _, key := range []string{"subjectVia", "referencedBy"} {
			if via := field(tb, key); via != nil {
				if !strings.HasPrefix(via.LineComment, "# foreign key ") {
					t.Errorf("%s: %s names no foreign key: %q", name.Value, key, via.LineComment)
				}
				if strings.Contains(via.LineComment, "guess:") {
					guesses++
				}
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
	const count = 200
	db := newDatabase(t, testdb.Postgres, testdb.WideSchema(testdb.Postgres, count))
	doc := db.draft()
	dm := tables(t, doc)
	t.Logf("%d tables: %d bytes of YAML, %d tables described", count, len(doc), len(dm))
	if len(doc) > worker.MaxDraftBytes {
		t.Fatalf("the draft is %d bytes, more than a ConfigMap holds (%d)", len(doc), worker.MaxDraftBytes)
	}
	text := string(doc)
	for i := 1; i < count; i++ {
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
		if tb, ok := dm[name]; !ok || linkOf(tb) == nil {
			t.Errorf("%s is not in the draft with a link", name)
		}
	}
	if !strings.Contains(text, "200 tables seen") || !strings.Contains(text, "WARNING: a DataMap takes at most 64 tables") {
		t.Errorf("the header does not count the tables or warn of the DataMap's limit:\n%s", text[:min(len(text), 2000)])
	}
	if r := db.verify(parse(t, doc)); len(r.Mismatches) > 0 {
		t.Errorf("the wide draft does not verify: %v", r.Mismatches[0])
	}
}

// A personal row the subject's row refers to is described with referencedBy, not listed:
// the address, reached from the customer's address_id, with its columns.
func TestDraftWithReferencedBy(t *testing.T) {
	db := newDatabase(t, testdb.Postgres, testdb.ShopSchema(testdb.Postgres))
	doc, err := draft.FromDatabase(context.Background(), db.target,
		draft.Options{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	dm := tables(t, doc)
	for table, want := range map[string]link{
		"addresses":   {"referencedBy", "address_id", "customers", "id"},
		"shops":       {"referencedBy", "shop_id", "staff", "id"},
		"orders":      {"subjectVia", "customer_id", "customers", "id"},
		"order_lines": {"subjectVia", "order_id,shop_id", "orders", "id,shop_id"},
	} {
		if got := linkOf(dm[table]); got == nil || *got != want {
			t.Errorf("%s: link = %+v, want %+v", table, got, want)
		}
	}
	for col, want := range map[string]string{
		"addresses.street":   "location redact",
		"addresses.postcode": "location generalize prefix",
		"addresses.city":     "location redact", // a weak clue, counted now that addresses are tied to a subject
		"addresses.phone":    "contact redact",
	} {
		table, column, _ := strings.Cut(col, ".")
		if got := maskOf(dm[table], column); got != want {
			t.Errorf("%s: %q, want %q", col, got, want)
		}
	}
	text := string(doc)
	if listed(text, "Tables with personal-looking columns", "addresses") {
		t.Errorf("addresses is both described and listed as unreachable:\n%s", text)
	}
	if !strings.Contains(text, "guess: chosen over orders_shipping_address_id_fkey") {
		t.Errorf("the other foreign key to addresses is not named as the alternative:\n%s", text)
	}
	checkGuessesMarked(t, doc)
}
