package testdb

import (
	"fmt"
	"strings"
)

// ShopSchema is the schema of an online shop as real applications lay one out, for tests
// that read a catalog Lethe's own fixtures were not written for: customers and staff
// (who report to staff), addresses the customer's row refers to, orders with lines under
// a composite foreign key, payments, refunds, invoices, sessions with IP addresses, an
// audit log, support tickets, newsletter sign-ups, failed logins, products and categories
// with no personal data, a table without a primary key, mixed-case quoted names and a
// name a DataMap cannot hold. It returns one statement per table, in creation order.
func ShopSchema(engine string) []string {
	return dialect(engine, shopSchema)
}

// dialect turns the schema's portable placeholders into the engine's SQL: ID (an
// auto-increment primary key), TS, INET, and "quoted" names.
func dialect(engine, schema string) []string {
	r := strings.NewReplacer("ID_PK", "BIGSERIAL PRIMARY KEY", " TS", " TIMESTAMP", " INET", " INET")
	if engine == MariaDB {
		r = strings.NewReplacer("ID_PK", "BIGINT AUTO_INCREMENT PRIMARY KEY", " TS", " DATETIME(6)", " INET", " VARCHAR(45)", `"`, "`")
	}
	var stmts []string
	for _, s := range strings.Split(schema, ";") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, r.Replace(s))
		}
	}
	return stmts
}

const shopSchema = `
CREATE TABLE countries (code CHAR(2) PRIMARY KEY, name VARCHAR(100) NOT NULL);
CREATE TABLE currencies (code CHAR(3) PRIMARY KEY, name VARCHAR(100) NOT NULL, symbol VARCHAR(8));
CREATE TABLE schema_migrations (version VARCHAR(40) PRIMARY KEY, applied_at TS);
CREATE TABLE settings (setting_key VARCHAR(100) PRIMARY KEY, value TEXT);
CREATE TABLE shops (id ID_PK, name VARCHAR(200) NOT NULL, phone VARCHAR(40), city VARCHAR(100),
  country_code CHAR(2) REFERENCES countries (code));
CREATE TABLE staff (id ID_PK, shop_id BIGINT NOT NULL REFERENCES shops (id),
  email VARCHAR(255) NOT NULL UNIQUE, first_name VARCHAR(100) NOT NULL, last_name VARCHAR(100) NOT NULL,
  reports_to BIGINT REFERENCES staff (id), hired_on DATE NOT NULL);
CREATE TABLE staff_documents (id ID_PK, staff_id BIGINT NOT NULL REFERENCES staff (id),
  national_id VARCHAR(64) UNIQUE, passport_number VARCHAR(40), uploaded_at TS);
CREATE TABLE addresses (id ID_PK, street VARCHAR(200) NOT NULL, city VARCHAR(100) NOT NULL,
  postcode VARCHAR(12) NOT NULL, country_code CHAR(2) NOT NULL REFERENCES countries (code), phone VARCHAR(40));
CREATE TABLE customers (id ID_PK, email VARCHAR(255) NOT NULL UNIQUE, full_name VARCHAR(200) NOT NULL,
  birth_date DATE, phone VARCHAR(40), address_id BIGINT REFERENCES addresses (id),
  account_manager_id BIGINT REFERENCES staff (id), signup_ip INET, created_at TS NOT NULL, last_login_at TS);
CREATE TABLE customer_emails (id ID_PK, customer_id BIGINT NOT NULL REFERENCES customers (id),
  email VARCHAR(255) NOT NULL UNIQUE, verified BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE "CustomerNotes" ("Id" ID_PK, "CustomerId" BIGINT NOT NULL REFERENCES customers (id),
  "Body" TEXT NOT NULL, "CreatedAt" TS NOT NULL);
CREATE TABLE loyalty_accounts (customer_id BIGINT PRIMARY KEY REFERENCES customers (id), points INTEGER NOT NULL);
CREATE TABLE categories (id ID_PK, parent_id BIGINT REFERENCES categories (id), name VARCHAR(100) NOT NULL,
  slug VARCHAR(100) NOT NULL UNIQUE);
CREATE TABLE products (id ID_PK, category_id BIGINT NOT NULL REFERENCES categories (id),
  sku VARCHAR(40) NOT NULL UNIQUE, name VARCHAR(200) NOT NULL, description TEXT, price DECIMAL(10,2) NOT NULL);
CREATE TABLE product_images (id ID_PK, product_id BIGINT NOT NULL REFERENCES products (id), url VARCHAR(500) NOT NULL);
CREATE TABLE suppliers (id ID_PK, company_name VARCHAR(200) NOT NULL, vat_number VARCHAR(40));
CREATE TABLE product_suppliers (product_id BIGINT NOT NULL REFERENCES products (id),
  supplier_id BIGINT NOT NULL REFERENCES suppliers (id), PRIMARY KEY (product_id, supplier_id));
CREATE TABLE warehouses (id ID_PK, name VARCHAR(100) NOT NULL, city VARCHAR(100) NOT NULL);
CREATE TABLE stock_levels (warehouse_id BIGINT NOT NULL REFERENCES warehouses (id),
  product_id BIGINT NOT NULL REFERENCES products (id), quantity INTEGER NOT NULL, PRIMARY KEY (warehouse_id, product_id));
CREATE TABLE orders (id ID_PK, customer_id BIGINT NOT NULL REFERENCES customers (id),
  shop_id BIGINT NOT NULL REFERENCES shops (id), shipping_address_id BIGINT REFERENCES addresses (id),
  status VARCHAR(20) NOT NULL, total DECIMAL(10,2) NOT NULL, delivery_instructions TEXT, placed_at TS NOT NULL,
  UNIQUE (id, shop_id));
CREATE TABLE order_lines (order_id BIGINT NOT NULL, shop_id BIGINT NOT NULL, line_no INTEGER NOT NULL,
  product_id BIGINT NOT NULL REFERENCES products (id), quantity INTEGER NOT NULL, price DECIMAL(10,2) NOT NULL,
  gift_message VARCHAR(500), PRIMARY KEY (order_id, line_no),
  FOREIGN KEY (order_id, shop_id) REFERENCES orders (id, shop_id));
CREATE TABLE payments (id ID_PK, order_id BIGINT NOT NULL REFERENCES orders (id), amount DECIMAL(10,2) NOT NULL,
  method VARCHAR(20) NOT NULL, cardholder_name VARCHAR(200), iban VARCHAR(34), paid_at TS);
CREATE TABLE refunds (id ID_PK, payment_id BIGINT NOT NULL REFERENCES payments (id), amount DECIMAL(10,2) NOT NULL,
  reason TEXT, refunded_at TS);
CREATE TABLE invoices (id ID_PK, order_id BIGINT NOT NULL UNIQUE REFERENCES orders (id),
  number VARCHAR(20) NOT NULL UNIQUE, billing_name VARCHAR(200) NOT NULL, billing_address TEXT NOT NULL,
  issued_at TS NOT NULL);
CREATE TABLE invoice_lines (invoice_id BIGINT NOT NULL REFERENCES invoices (id), line_no INTEGER NOT NULL,
  description VARCHAR(200) NOT NULL, amount DECIMAL(10,2) NOT NULL, PRIMARY KEY (invoice_id, line_no));
CREATE TABLE sessions (id VARCHAR(64) PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id),
  ip_address INET NOT NULL, user_agent TEXT, created_at TS NOT NULL, expires_at TS NOT NULL);
CREATE TABLE audit_log (id ID_PK, actor_staff_id BIGINT REFERENCES staff (id),
  customer_id BIGINT REFERENCES customers (id), action VARCHAR(50) NOT NULL, ip_address VARCHAR(45), created_at TS NOT NULL);
CREATE TABLE support_tickets (id ID_PK, customer_id BIGINT REFERENCES customers (id), title VARCHAR(200) NOT NULL,
  body TEXT NOT NULL, created_at TS NOT NULL);
CREATE TABLE ticket_messages (id ID_PK, ticket_id BIGINT NOT NULL REFERENCES support_tickets (id),
  author_staff_id BIGINT REFERENCES staff (id), body TEXT NOT NULL, sent_at TS NOT NULL);
CREATE TABLE reviews (id ID_PK, product_id BIGINT NOT NULL REFERENCES products (id),
  customer_id BIGINT REFERENCES customers (id), rating INTEGER NOT NULL, comment TEXT, reviewer_name VARCHAR(100));
CREATE TABLE wishlists (id ID_PK, customer_id BIGINT NOT NULL REFERENCES customers (id), name VARCHAR(100) NOT NULL);
CREATE TABLE wishlist_items (wishlist_id BIGINT NOT NULL REFERENCES wishlists (id),
  product_id BIGINT NOT NULL REFERENCES products (id), PRIMARY KEY (wishlist_id, product_id));
CREATE TABLE gift_cards (code VARCHAR(32) PRIMARY KEY, balance DECIMAL(10,2) NOT NULL,
  purchaser_id BIGINT REFERENCES customers (id), recipient_email VARCHAR(255), recipient_name VARCHAR(200));
CREATE TABLE newsletter_subscribers (id ID_PK, email VARCHAR(255) NOT NULL UNIQUE, subscribed_at TS NOT NULL,
  consent_ip VARCHAR(45));
CREATE TABLE login_attempts (id ID_PK, email VARCHAR(255) NOT NULL, ip VARCHAR(45) NOT NULL,
  succeeded BOOLEAN NOT NULL, attempted_at TS NOT NULL);
CREATE TABLE page_views (customer_id BIGINT REFERENCES customers (id), url VARCHAR(500) NOT NULL,
  ip_address VARCHAR(45), viewed_at TS NOT NULL);
CREATE TABLE "order-exports" (id ID_PK, contact_email VARCHAR(255), created_at TS NOT NULL);
`

// WideSchema is a generated schema of n tables (n ≥ 10) in the shapes large applications
// repeat: one accounts table of subjects, tables of personal data under it two and three
// foreign keys deep, and lookup tables without personal data.
func WideSchema(engine string, n int) []string {
	var b strings.Builder
	b.WriteString("CREATE TABLE accounts (id ID_PK, email VARCHAR(255) NOT NULL UNIQUE, display_name VARCHAR(200));\n")
	for i := 1; i < n; i++ {
		switch i % 4 {
		case 1:
			fmt.Fprintf(&b, "CREATE TABLE module%03d_profiles (id ID_PK, account_id BIGINT NOT NULL REFERENCES accounts (id), "+
				"phone VARCHAR(40), street VARCHAR(200), postcode VARCHAR(12), birth_date DATE);\n", i)
		case 2:
			fmt.Fprintf(&b, "CREATE TABLE module%03d_events (id ID_PK, profile_id BIGINT NOT NULL REFERENCES module%03d_profiles (id), "+
				"ip_address VARCHAR(45), notes TEXT, happened_at TS NOT NULL);\n", i, i-1)
		case 3:
			fmt.Fprintf(&b, "CREATE TABLE module%03d_event_details (id ID_PK, event_id BIGINT NOT NULL REFERENCES module%03d_events (id), "+
				"comment TEXT, recipient_email VARCHAR(255));\n", i, i-1)
		default:
			fmt.Fprintf(&b, "CREATE TABLE module%03d_codes (code VARCHAR(20) PRIMARY KEY, label VARCHAR(100) NOT NULL, sort_order INTEGER);\n", i)
		}
	}
	return dialect(engine, b.String())
}
