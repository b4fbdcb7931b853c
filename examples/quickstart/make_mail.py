#!/usr/bin/env python3
"""Writes the quickstart's invoice e-mails into examples/quickstart/mail/new/.

Run once by a maintainer (needs Debian's groff and ghostscript for the PDFs);
the generated .eml files are committed, so `make demo` needs neither.

  python3 examples/quickstart/make_mail.py

The mails tell the story of the demo:
  1-3  ordinary invoices whose purchase order exists and agrees     -> automated
  4    the same invoice as 1 sent again (a reminder)                -> possible duplicate
  5    an invoice whose total does not match its purchase order     -> po_mismatch
  6    an invoice for a purchase order the ERP does not know        -> po_missing
  7    a scan with no readable text (an image-only PDF)             -> low confidence
  8    not a mail at all (a truncated file)                         -> dead letter
Invoices 2 and 5 come as PDF attachments, the others in the mail body.
"""
import email.utils
import os
import subprocess
import sys
from email.message import EmailMessage

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "mail", "new")

# (file, vendor, address, invoice no, PO, total, date, as_pdf)
INVOICES = [
    ("01", "NORTHWIND TRADERS LTD", ["14 Harbour Road,", "Leeds LS1 4AB,", "United Kingdom"],
     "NW-10231", "PO-1001", "1250.00", "3 November 2026", False),
    ("02", "CONTOSO OFFICE SUPPLY GMBH", ["Hauptstrasse 5,", "10115 Berlin,", "Germany"],
     "CT-2026-118", "PO-1002", "482.40", "5 November 2026", True),
    ("03", "FABRIKAM PARTS SDN BHD", ["Jalan Ampang 88,", "50450 Kuala Lumpur,", "Malaysia"],
     "FP-7781", "PO-1003", "3120.75", "6 November 2026", False),
    ("04", "NORTHWIND TRADERS LTD", ["14 Harbour Road,", "Leeds LS1 4AB,", "United Kingdom"],
     "NW-10231", "PO-1001", "1250.00", "3 November 2026", False),
    ("05", "ADVENTURE WORKS INC", ["200 Market Street,", "San Francisco CA 94105,", "USA"],
     "AW-5502", "PO-1004", "9800.00", "9 November 2026", True),
    ("06", "LITWARE CONSULTING LTD", ["7 Mill Lane,", "Cambridge CB2 1RX,", "United Kingdom"],
     "LW-330", "PO-2999", "640.00", "10 November 2026", False),
]


def invoice_lines(vendor, address, no, po, total, date, cur="EUR"):
    net = float(total) / 1.2
    vat = float(total) - net
    return ([vendor] + address +
            ["Tel: +44 113 496 0000", "INVOICE", "Invoice Number:", no,
             "Invoice Date: " + date, "P.O. No. " + po,
             "Services as agreed 1 %.2f %.2f" % (net, net),
             "Subtotal %.2f" % net, "VAT %.2f" % vat,
             "Grand total %s %s" % (total, cur),
             "Payment due within 30 days. Bank: IBAN GB29 NWBK 6016 1331 9268 19"])


def make_pdf(lines):
    roff = ".nf\n" + "\n".join(l.replace("\\", "\\\\") for l in lines) + "\n"
    ps = subprocess.run(["groff", "-Tps"], input=roff.encode(), check=True,
                        capture_output=True).stdout
    return subprocess.run(["ps2pdf", "-", "-"], input=ps, check=True,
                          capture_output=True).stdout


def image_only_pdf():
    # A page with a drawn box and no text: what a bad scan looks like to pdftotext.
    ps = b"%!PS\n72 600 moveto 400 600 lineto 400 700 lineto 72 700 lineto closepath fill\nshowpage\n"
    return subprocess.run(["ps2pdf", "-", "-"], input=ps, check=True,
                          capture_output=True).stdout


def mail(n, sender, subject, body, pdf=None, pdf_name=None):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "AP Desk <ap@example.com>"
    m["Subject"] = subject
    m["Date"] = email.utils.format_datetime(
        email.utils.parsedate_to_datetime("Mon, 16 Nov 2026 09:%02d:00 +0000" % n))
    m["Message-ID"] = "<quickstart-%02d@example.com>" % n
    m.set_content(body)
    if pdf:
        m.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    return m.as_bytes()


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    for i, (n, vendor, addr, no, po, total, date, as_pdf) in enumerate(INVOICES, 1):
        lines = invoice_lines(vendor, addr, no, po, total, date)
        sender = "%s <billing@%s.example>" % (vendor.title(), vendor.split()[0].lower())
        if as_pdf:
            raw = mail(i, sender, "Invoice %s" % no,
                       "Dear AP team,\n\nplease find our invoice attached.\n\nKind regards\n",
                       make_pdf(lines), "invoice-%s.pdf" % no)
        else:
            subject = "Invoice %s" % no if n != "04" else "Reminder: invoice %s" % no
            raw = mail(i, sender, subject, "\n".join(lines) + "\n")
        with open(os.path.join(OUT, "1763283%s.quickstart%s.eml" % (n, n)), "wb") as f:
            f.write(raw)
    raw = mail(7, "Scanner <scanner@example.com>", "Scan from MFP-3",
               "Scanned document attached.\n", image_only_pdf(), "scan-0007.pdf")
    with open(os.path.join(OUT, "176328307.quickstart07.eml"), "wb") as f:
        f.write(raw)
    # Not a mail: a file cut off before its first header ended.
    with open(os.path.join(OUT, "176328308.quickstart08.eml"), "wb") as f:
        f.write(b"\x00\x01PK\x03\x04 truncated upload\n")
    print("wrote %d messages to %s" % (len(os.listdir(OUT)), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
