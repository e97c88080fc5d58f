CREATE TABLE customers (
  id            bigint AUTO_INCREMENT PRIMARY KEY,
  email         varchar(255) NOT NULL UNIQUE,
  full_name     text,
  phone         varchar(32),
  birth_date    date,
  country       char(2),
  last_login_at datetime,
  created_at    datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE bookings (
  id          bigint AUTO_INCREMENT PRIMARY KEY,
  customer_id bigint NOT NULL,
  created_at  datetime NOT NULL,
  ip_address  varchar(45),
  FOREIGN KEY (customer_id) REFERENCES customers(id)
);
CREATE TABLE invoices (
  id              bigint AUTO_INCREMENT PRIMARY KEY,
  customer_id     bigint NOT NULL,
  issued_at       date NOT NULL,
  billing_name    text,
  billing_address text,
  amount          decimal(10,2) NOT NULL,
  FOREIGN KEY (customer_id) REFERENCES customers(id)
);
CREATE TABLE support_tickets (
  id          bigint AUTO_INCREMENT PRIMARY KEY,
  customer_id bigint NOT NULL,
  created_at  datetime NOT NULL,
  body        text,
  FOREIGN KEY (customer_id) REFERENCES customers(id)
);
INSERT INTO customers (email, full_name, phone, birth_date, country, last_login_at, created_at)
SELECT CONCAT('guest', seq, '@mail.example'), CONCAT('Guest ', seq), CONCAT('+45 1000', seq),
       DATE_ADD('1960-01-01', INTERVAL seq * 37 DAY), 'DK',
       NOW() - INTERVAL seq * 9 DAY, NOW() - INTERVAL seq * 11 DAY
FROM seq_1_to_200;
INSERT INTO bookings (customer_id, created_at, ip_address)
SELECT 1 + seq % 200, NOW() - INTERVAL seq * 13 DAY, CONCAT('10.1.', seq % 250, '.', seq % 200)
FROM seq_1_to_400;
INSERT INTO invoices (customer_id, issued_at, billing_name, billing_address, amount)
SELECT 1 + seq % 200, CURDATE() - INTERVAL seq * 9 DAY, CONCAT('Guest ', 1 + seq % 200), CONCAT('Street ', seq), 100 + seq
FROM seq_1_to_300;
INSERT INTO support_tickets (customer_id, created_at, body)
SELECT 1 + seq % 200, NOW() - INTERVAL seq * 5 DAY, CONCAT('Ticket ', seq)
FROM seq_1_to_100;
