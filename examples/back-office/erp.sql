-- The back-office ERP on PostgreSQL 15: the quickstart's schema (purchase
-- orders the AP team matches invoices against, and the AP invoice table the
-- bus writes back into) in PostgreSQL's SQL. run.sh loads it with psql into a
-- fresh cluster; the bus reaches it through unixODBC and psqlODBC
-- ("PostgreSQL Unicode"), like any ERP.
CREATE TABLE purchase_orders (
    po_number TEXT PRIMARY KEY,
    vendor    TEXT NOT NULL,
    total     NUMERIC(12, 2) NOT NULL,
    currency  CHAR(3) NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('open', 'closed'))
);
INSERT INTO purchase_orders VALUES
    ('PO-1001', 'Northwind Traders Ltd',      1250.00, 'EUR', 'open'),
    ('PO-1002', 'Contoso Office Supply GmbH',  482.40, 'EUR', 'open'),
    ('PO-1003', 'Fabrikam Parts Sdn Bhd',     3120.75, 'EUR', 'open'),
    ('PO-1004', 'Adventure Works Inc',        8900.00, 'EUR', 'open');

CREATE TABLE ap_invoices (
    invoice_no   TEXT PRIMARY KEY,
    vendor       TEXT NOT NULL,
    po_number    TEXT,
    total        NUMERIC(12, 2) NOT NULL,
    currency     CHAR(3),
    invoice_date TEXT,
    status       TEXT NOT NULL,
    message_id   TEXT,
    written_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
