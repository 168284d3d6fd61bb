-- The tables of billing, the same on SQLite and PostgreSQL.
CREATE TABLE bil_offers (
    id {{id}},
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    monthly_gross_cents BIGINT NOT NULL,
    vat_basis_points INTEGER NOT NULL,
    vat_category TEXT NOT NULL,
    setup_fee_cents BIGINT NOT NULL,
    deliberation TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE bil_accounts (
    id {{id}},
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    postcode TEXT NOT NULL,
    town TEXT NOT NULL,
    email TEXT,
    siren TEXT,
    vat_number TEXT,
    household TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE bil_subscriptions (
    id {{id}},
    code TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES bil_accounts (id),
    line_id TEXT NOT NULL,
    started_on TEXT NOT NULL,
    ended_on TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX bil_subscriptions_live_line ON bil_subscriptions (line_id) WHERE ended_on IS NULL;
CREATE TABLE bil_periods (
    id {{id}},
    subscription_id BIGINT NOT NULL REFERENCES bil_subscriptions (id),
    from_day TEXT NOT NULL,
    to_day TEXT,
    offer_id BIGINT NOT NULL REFERENCES bil_offers (id),
    service TEXT NOT NULL
);
CREATE UNIQUE INDEX bil_periods_open ON bil_periods (subscription_id) WHERE to_day IS NULL;
CREATE TABLE bil_series (
    series TEXT PRIMARY KEY,
    next_number BIGINT NOT NULL
);
CREATE TABLE bil_invoices (
    id {{id}},
    number TEXT NOT NULL UNIQUE,
    series TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES bil_accounts (id),
    subscription_id BIGINT REFERENCES bil_subscriptions (id),
    period TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    net_cents BIGINT NOT NULL,
    tax_cents BIGINT NOT NULL,
    gross_cents BIGINT NOT NULL,
    lines_json TEXT NOT NULL,
    buyer_json TEXT NOT NULL,
    corrects BIGINT REFERENCES bil_invoices (id),
    created_at TEXT NOT NULL,
    UNIQUE (series, seq)
);
CREATE UNIQUE INDEX bil_invoices_once ON bil_invoices (subscription_id, period) WHERE kind = 'invoice';
CREATE INDEX bil_invoices_account ON bil_invoices (account_id);
