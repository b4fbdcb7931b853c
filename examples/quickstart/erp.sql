-- The quickstart's ERP: purchase orders the AP team matches invoices against,
-- and the AP invoice table the bus writes back into. `make demo` creates
-- examples/quickstart/out/erp.db from this file with the sqlite3 shell; the
-- bus reaches it through unixODBC and the SQLite ODBC driver, like any ERP.
CREATE TABLE purchase_orders (
    po_number TEXT PRIMARY KEY,
    vendor    TEXT NOT NULL,
    total     NUMERIC NOT NULL,
    currency  TEXT NOT NULL,
    status    TEXT NOT NULL
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
    total        NUMERIC NOT NULL,
    currency     TEXT,
    invoice_date TEXT,
    status       TEXT NOT NULL,
    message_id   TEXT
);
