#!/usr/bin/env python3
"""Writes test mail as maildir files (raw bytes, exactly as a server stores them).

mail_seed.py DIR --pdf FILE            the test set: one file per case (names below)
mail_seed.py DIR --pdf FILE --bulk N   N invoice-like messages, every third with the PDF
"""
import argparse
import base64
import os

PDF_NAME = "INV-2026-0042.pdf"


def b64(data):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def msg(headers, body):
    head = "".join("%s: %s\r\n" % h for h in headers)
    return head.encode("latin-1") + b"\r\n" + body


def plain():
    return msg([("From", "Alice Example <alice@example.org>"),
                ("To", "ap@acme.example, \"Bob B.\" <bob@acme.example>"),
                ("Cc", "audit@acme.example"),
                ("Subject", "Plain hello"),
                ("Date", "Fri, 20 Nov 2026 10:00:00 +0100"),
                ("Message-ID", "<plain-1@example.org>"),
                ("In-Reply-To", "<orig-7@acme.example>"),
                ("References", "<root-1@acme.example> <orig-7@acme.example>"),
                ("Content-Type", "text/plain; charset=us-ascii")],
               b"Hello AP team,\r\nplease find our statement.\r\n")


def alternative():
    return msg([("From", "billing@vendor.example"), ("To", "ap@acme.example"),
                ("Subject", "Alternative"), ("Date", "Fri, 20 Nov 2026 11:00:00 +0000"),
                ("Message-ID", "<alt-1@vendor.example>"), ("MIME-Version", "1.0"),
                ("Content-Type", "multipart/alternative; boundary=\"b1\"")],
               b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
               b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
               b"Gr=C3=BC=C3=9Fe from the plain part\r\n"
               b"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
               b"<p>HTML part that must not win</p>\r\n--b1--\r\n")


def htmlonly():
    return msg([("From", "news@vendor.example"), ("To", "ap@acme.example"),
                ("Subject", "HTML only"), ("Date", "Fri, 20 Nov 2026 12:00:00 +0000"),
                ("Message-ID", "<html-1@vendor.example>"), ("MIME-Version", "1.0"),
                ("Content-Type", "text/html; charset=utf-8")],
               b"<html><head><title>T</title><style>p{color:red}</style></head><body>"
               b"<script>alert('x')</script><h1>Order &amp; delivery</h1>"
               b"<p>Line one<br>Line   two</p><table><tr><td>Qty</td><td>3</td></tr></table>"
               b"</body></html>\r\n")


def invoice(pdf, n=42):
    return msg([("From", "\"ACME Supplies\" <invoices@acme-supplies.example>"),
                ("To", "ap@acme.example"), ("Subject", "Invoice INV-2026-%04d" % n),
                ("Date", "Fri, 20 Nov 2026 13:00:00 +0000"),
                ("Message-ID", "<inv-%d@acme-supplies.example>" % n), ("MIME-Version", "1.0"),
                ("Content-Type", "multipart/mixed; boundary=\"mix\"")],
               b"--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
               b"Please find attached our invoice.\r\n"
               b"--mix\r\nContent-Type: application/pdf; name=\"" + PDF_NAME.encode() + b"\"\r\n"
               b"Content-Disposition: attachment; filename=\"" + PDF_NAME.encode() + b"\"\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf).encode() +
               b"\r\n--mix--\r\n")


def latin1():
    return msg([("From", "=?ISO-8859-1?Q?J=FCrgen_M=FCller?= <jm@lieferant.example>"),
                ("To", "ap@acme.example"),
                ("Subject", "=?ISO-8859-1?Q?Rechnung_f=FCr_M=E4rz?="),
                ("Date", "Fri, 20 Nov 2026 14:00:00 +0100"),
                ("Message-ID", "<latin1-1@lieferant.example>"), ("MIME-Version", "1.0"),
                ("Content-Type", "text/plain; charset=iso-8859-1"),
                ("Content-Transfer-Encoding", "8bit")],
               "Sehr geehrte Damen und Herren, anbei die Rechnung. Grüße\r\n".encode("latin-1"))


def latin1raw():
    # An 8-bit header with no encoded-word and no charset: read as windows-1252.
    return b"From: shop@vendor.example\r\nSubject: Caf\xe9 bill\r\n" \
           b"Date: Fri, 20 Nov 2026 15:00:00 +0000\r\nMessage-ID: <raw-1@vendor.example>\r\n" \
           b"\r\nTotal \xe9t\xe9\r\n"


def utf8():
    subj = "Счёт № 7 — 東京"
    return msg([("From", "=?UTF-8?B?%s?= <tokyo@vendor.example>" % base64.b64encode("東京商事".encode()).decode()),
                ("To", "ap@acme.example"),
                ("Subject", "=?UTF-8?B?%s?=" % base64.b64encode(subj.encode()).decode()),
                ("Date", "Fri, 20 Nov 2026 16:00:00 +0900"),
                ("Message-ID", "<utf8-1@vendor.example>"), ("MIME-Version", "1.0"),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Transfer-Encoding", "8bit")],
               "Оплата до 30.11 — спасибо\r\n".encode())


def malformed():
    # No header block at all: binary noise.
    return bytes((i * 37 + 11) % 256 for i in range(600)).replace(b":", b"")


def oversized():
    return msg([("From", "big@vendor.example"), ("Subject", "Oversized"),
                ("Message-ID", "<big-1@vendor.example>"), ("Content-Type", "text/plain")],
               (b"x" * 998 + b"\r\n") * 300)


def bigatt():
    return msg([("From", "scan@vendor.example"), ("Subject", "Big scan"),
                ("Message-ID", "<bigatt-1@vendor.example>"), ("MIME-Version", "1.0"),
                ("Content-Type", "multipart/mixed; boundary=\"z\"")],
               b"--z\r\nContent-Type: text/plain\r\n\r\nscan\r\n--z\r\n"
               b"Content-Type: image/png\r\nContent-Disposition: attachment; filename=\"scan.png\"\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(b"\x89PNG" + b"\0" * 150000).encode() +
               b"\r\n--z--\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--pdf", required=True)
    ap.add_argument("--bulk", type=int, default=0)
    a = ap.parse_args()
    pdf = open(a.pdf, "rb").read()
    os.makedirs(a.dir, exist_ok=True)
    if a.bulk:
        for i in range(a.bulk):
            if i % 3 == 0:
                data = invoice(pdf, 10000 + i)
            else:
                data = plain().replace(b"<plain-1@", b"<plain-%d@" % i) \
                              .replace(b"Plain hello", b"Statement %d" % i)
            with open(os.path.join(a.dir, "%08d.bulk" % i), "wb") as f:
                f.write(data)
        return
    cases = [("01plain", plain()), ("02alternative", alternative()), ("03htmlonly", htmlonly()),
             ("04invoice", invoice(pdf)), ("05latin1", latin1()), ("06latin1raw", latin1raw()),
             ("07utf8", utf8()), ("08malformed", malformed()), ("09oversized", oversized()),
             ("10bigatt", bigatt())]
    for name, data in cases:
        with open(os.path.join(a.dir, "1763600000.%s.seed" % name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
