#!/usr/bin/env python3
"""Tiny invoice documents for e2e-ai (issue 19): `extract read` and
`eval extract --format invoices` on files as integrators have them.

  gen_invoice_docs.py OUTDIR

writes OUTDIR/pdf/{de,us,scan}.pdf and OUTDIR/key/*.json (the invoices-real
layout), OUTDIR/mail.eml (the German invoice as a PDF attachment),
OUTDIR/scan.png (the US invoice as an image) and OUTDIR/body.txt.
PDFs are typeset with groff and ps2pdf; the scan is the US invoice rendered by
Ghostscript to pixels and wrapped in a PDF with no text layer."""
import json
import os
import subprocess
import sys
import zlib
from email.message import EmailMessage

DE = ["Nordlicht Software GmbH", "Hafenstrasse 12, 20457 Hamburg", "",
      "Rechnung", "Rechnungsnummer: RE-2023-0417", "Rechnungsdatum: 4. Juli 2023",
      "Kunde: Beispiel AG, Bonn", "",
      "Beschreibung            Menge     Betrag",
      "Lizenz Juli 2023        1         100,00 EUR",
      "Zwischensumme                     100,00 EUR",
      "MwSt 19%                           19,00 EUR",
      "Gesamtbetrag                      119,00 EUR", "",
      "Zahlbar bis 18.07.2023. IBAN DE89 3704 0044 0532 0130 00"]
US = ["Bluebird Analytics, Inc.", "88 Market Street, San Francisco, CA 94105", "",
      "INVOICE", "Invoice number: BB-77120", "Invoice date: March 9, 2023",
      "Bill to: Example Ltd, London", "",
      "Description             Qty       Amount",
      "Pro plan (monthly)      1         $1,234.56",
      "Subtotal                          $1,234.56",
      "Tax                                   $0.00",
      "Total due                        $1,234.56", "",
      "Due date: April 8, 2023. Thank you for your business."]


def typeset(lines):
    roff = ".nf\n.ps 12\n.vs 16\n" + "\n".join(l.replace("\\", "\\\\") for l in lines) + "\n"
    ps = subprocess.run(["groff", "-Tps"], input=roff.encode(), check=True,
                        capture_output=True).stdout
    return subprocess.run(["ps2pdf", "-", "-"], input=ps, check=True,
                          capture_output=True).stdout


def render(pdf, device, dpi):
    return subprocess.run(["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=" + device,
                           "-r%d" % dpi, "-dFirstPage=1", "-dLastPage=1", "-sOutputFile=-", "-"],
                          input=pdf, check=True, capture_output=True).stdout


def image_pdf(ppm):
    """A PDF whose one page is the PPM image: a scan, no text layer."""
    # P6, width, height, 255, then one white space and the pixels; '#' comments.
    toks, i = [], 0
    while len(toks) < 4:
        while ppm[i:i + 1].isspace():
            i += 1
        if ppm[i:i + 1] == b"#":
            i = ppm.index(b"\n", i) + 1
            continue
        j = i
        while not ppm[j:j + 1].isspace():
            j += 1
        toks.append(ppm[i:j])
        i = j
    w, h = int(toks[1]), int(toks[2])
    pixels = zlib.compress(ppm[i + 1:i + 1 + w * h * 3])
    pw, ph = w * 72.0 / 200, h * 72.0 / 200
    content = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (pw, ph)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>" % (pw, ph),
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(pixels)) + pixels + b"\nendstream",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "pdf"), exist_ok=True)
    os.makedirs(os.path.join(out, "key"), exist_ok=True)
    de, us = typeset(DE), typeset(US)
    scan = image_pdf(render(us, "ppmraw", 200))
    for name, data in (("de", de), ("us", us), ("scan", scan)):
        with open(os.path.join(out, "pdf", name + ".pdf"), "wb") as f:
            f.write(data)
    keys = {"de": {"vendor": "Nordlicht Software GmbH", "invoice_number": "RE-2023-0417",
                   "date": "2023-07-04", "total": "119.00", "currency": "EUR"},
            "us": {"vendor": "Bluebird Analytics, Inc.", "invoice_number": "BB-77120",
                   "date": "2023-03-09", "total": "1234.56", "currency": "USD"}}
    # The same invoice, labelled as people type: case, legal form and "#"
    # must not matter to the comparison.
    keys["scan"] = dict(keys["us"], vendor="BLUEBIRD ANALYTICS", invoice_number="# BB-77120")
    for name, k in keys.items():
        with open(os.path.join(out, "key", name + ".json"), "w") as f:
            json.dump(k, f)
    m = EmailMessage()
    m["From"] = "Nordlicht Billing <billing@nordlicht.example>"
    m["To"] = "AP <ap@example.com>"
    m["Subject"] = "Rechnung RE-2023-0417"
    m["Message-ID"] = "<re-2023-0417@nordlicht.example>"
    m.set_content("Guten Tag,\n\nanbei unsere Rechnung.\n")
    m.add_attachment(de, maintype="application", subtype="pdf", filename="RE-2023-0417.pdf")
    with open(os.path.join(out, "mail.eml"), "wb") as f:
        f.write(m.as_bytes())
    with open(os.path.join(out, "scan.png"), "wb") as f:
        f.write(render(us, "png16m", 200))
    with open(os.path.join(out, "body.txt"), "w") as f:
        f.write("\n".join(US) + "\n")


if __name__ == "__main__":
    main()
