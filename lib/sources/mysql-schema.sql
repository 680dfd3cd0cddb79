-- The MySQL source contract: the tables the pipeline extracts from the retailer's RDS MySQL.
-- The data generator creates exactly these; a real deployment's tables must have these columns
-- (extra columns are ignored). Every table has `updated_at`, maintained on every change, which the
-- incremental extraction uses as its watermark together with the primary key.
-- Strict mode is deliberately not assumed: legacy databases hold zero dates and other oddities, so
-- extraction reads dates as text and stage quarantines what does not parse.

CREATE TABLE IF NOT EXISTS customers (
  customer_id      BIGINT        NOT NULL,
  email            VARCHAR(255)  NULL,
  first_name       VARCHAR(100)  NULL,
  last_name        VARCHAR(100)  NULL,
  phone            VARCHAR(40)   NULL,
  gender           VARCHAR(16)   NULL,
  birth_date       DATE          NULL,
  city             VARCHAR(100)  NULL,
  state            VARCHAR(100)  NULL,
  country          CHAR(2)       NULL,
  signup_at        DATETIME      NULL,
  loyalty_tier     VARCHAR(16)   NULL,
  marketing_opt_in TINYINT(1)    NULL,
  updated_at       DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (customer_id),
  KEY ix_customers_updated (updated_at, customer_id)
);

CREATE TABLE IF NOT EXISTS products (
  product_id BIGINT        NOT NULL,
  name       VARCHAR(255)  NULL,
  category   VARCHAR(100)  NULL,
  brand      VARCHAR(100)  NULL,
  price      DECIMAL(12,2) NULL,
  updated_at DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (product_id),
  KEY ix_products_updated (updated_at, product_id)
);

-- No foreign keys: the source systems do not enforce them, and the pipeline must quarantine orders of
-- unknown customers rather than assume they cannot exist.
CREATE TABLE IF NOT EXISTS orders (
  order_id        BIGINT        NOT NULL AUTO_INCREMENT,
  customer_id     BIGINT        NULL,
  order_at        DATETIME      NULL,
  status          VARCHAR(16)   NULL,
  channel         VARCHAR(16)   NULL,
  payment_method  VARCHAR(16)   NULL,
  currency        CHAR(3)       NULL,
  total_amount    DECIMAL(12,2) NULL,
  discount_amount DECIMAL(12,2) NULL,
  updated_at      DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (order_id),
  KEY ix_orders_updated (updated_at, order_id)
);

CREATE TABLE IF NOT EXISTS order_items (
  order_id        BIGINT        NOT NULL,
  line_number     INT           NOT NULL,
  product_id      BIGINT        NULL,
  quantity        INT           NULL,
  unit_price      DECIMAL(12,2) NULL,
  discount_amount DECIMAL(12,2) NULL,
  updated_at      DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (order_id, line_number),
  KEY ix_order_items_updated (updated_at, order_id, line_number)
);
