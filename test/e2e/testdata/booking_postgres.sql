CREATE TABLE customers (
  id            bigserial PRIMARY KEY,
  email         varchar(255) NOT NULL UNIQUE,
  full_name     text,
  phone         varchar(32),
  birth_date    date,
  country       char(2),
  last_login_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bookings (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  created_at  timestamptz NOT NULL,
  ip_address  inet
);
CREATE TABLE invoices (
  id              bigserial PRIMARY KEY,
  customer_id     bigint NOT NULL REFERENCES customers(id),
  issued_at       date NOT NULL,
  billing_name    text,
  billing_address text,
  amount          numeric(10,2) NOT NULL
);
CREATE TABLE support_tickets (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  created_at  timestamptz NOT NULL,
  body        text
);
INSERT INTO customers (email, full_name, phone, birth_date, country, last_login_at, created_at)
SELECT 'guest' || g || '@mail.example', 'Guest ' || g, '+45 1000' || g, date '1960-01-01' + g * 37,
       'DK', now() - g * interval '9 days', now() - g * interval '11 days'
FROM generate_series(1, 200) g;
INSERT INTO bookings (customer_id, created_at, ip_address)
SELECT 1 + g % 200, now() - g * interval '13 days', ('10.1.' || (g % 250) || '.' || (g % 200))::inet
FROM generate_series(1, 400) g;
INSERT INTO invoices (customer_id, issued_at, billing_name, billing_address, amount)
SELECT 1 + g % 200, current_date - g * 9, 'Guest ' || (1 + g % 200), 'Street ' || g, 100 + g
FROM generate_series(1, 300) g;
INSERT INTO support_tickets (customer_id, created_at, body)
SELECT 1 + g % 200, now() - g * interval '5 days', 'Ticket ' || g
FROM generate_series(1, 100) g;
