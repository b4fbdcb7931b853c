#!/usr/bin/env python3
"""Synthetic labelled data for the AI end-to-end test (the project's tests never
need the shared data sets) and for the shipped invoice model (no labelled
invoice set with invoice and PO numbers is public).

  gen_ai_data.py receipts DIR N SEED   -> DIR/box/NNN.csv, DIR/key/NNN.json (SROIE layout)
  gen_ai_data.py invoices DIR N SEED   -> DIR/text/NNN.txt, DIR/key/NNN.json (text lines, no positions)
  gen_ai_data.py tickets FILE N SEED   -> JSON lines {"text", "category", "priority"}
"""
import json
import os
import random
import sys

WORDS = ["ALPHA", "SRI", "MAJU", "JAYA", "GOLDEN", "SINAR", "BINTANG", "MEGA", "TIMUR",
         "PERDANA", "CAHAYA", "RIA", "SENTOSA", "BUDI", "MUTIARA", "HARMONI"]
KINDS = ["TRADING", "ENTERPRISE", "HARDWARE", "RESTORAN", "STATIONERY", "MART", "CAFE",
         "BOOK STORE", "PHARMACY"]
SUFFIX = ["SDN BHD", "SDN. BHD.", "", "", "S/B"]
TOWNS = [("40400", "SHAH ALAM", "SELANGOR"), ("81100", "JOHOR BAHRU", "JOHOR"),
         ("43300", "SERI KEMBANGAN", "SELANGOR"), ("53000", "KUALA LUMPUR", ""),
         ("47400", "PETALING JAYA", "SELANGOR DARUL EHSAN")]
PEOPLE = ["TAN AH KOW", "SITI AMINAH", "RAJ KUMAR", "LEE MEI LING"]


def receipt(r):
    vendor = " ".join([r.choice(WORDS), r.choice(WORDS), r.choice(KINDS)])
    suf = r.choice(SUFFIX)
    if suf:
        vendor += " " + suf
    pc, town, state = r.choice(TOWNS)
    a1 = "NO %d, JALAN %s %d," % (r.randint(1, 200), r.choice(WORDS), r.randint(1, 30))
    a2 = "TAMAN %s %s," % (r.choice(WORDS), r.choice(WORDS))
    a3 = "%s %s" % (pc, town) + ((", " + state) if state else "")
    addr_lines = [a1, a2, a3] if r.random() < 0.6 else [a1 + " " + a2, a3]
    day, mon, year = r.randint(1, 28), r.randint(1, 12), r.choice([2017, 2018, 2019])
    fmt = r.choice(["%02d/%02d/%d", "%02d-%02d-%d", "%02d.%02d.%d"])
    date = fmt % (day, mon, year)
    lines = []  # (text, x, same_row_as_previous)
    if r.random() < 0.3:
        lines.append((r.choice(PEOPLE), 120, False))
    lines.append((vendor, 60, False))
    if r.random() < 0.7:
        lines.append(("(%d-%s)" % (r.randint(100000, 999999), r.choice("ABCDKMPTUVWX")), 150, False))
    for a in addr_lines:
        lines.append((a, 40, False))
    lines.append(("TEL: 03-%d" % r.randint(1000000, 9999999), 80, False))
    if r.random() < 0.5:
        lines.append(("GST ID: %012d" % r.randint(0, 10**12 - 1), 80, False))
    lines.append((r.choice(["TAX INVOICE", "CASH BILL", "RECEIPT"]), 150, False))
    if r.random() < 0.4:
        lines.append(("MEMBER EXPIRY: %02d/%02d/%d" % (r.randint(1, 28), r.randint(1, 12), 2021), 20, False))
    t = "%02d:%02d" % (r.randint(8, 22), r.randint(0, 59))
    if r.random() < 0.5:
        lines.append(("DATE: %s %s" % (date, t), 20, False))
    else:
        lines.append(("DATE:", 20, False))
        lines.append(("%s %s" % (date, t), 200, True))
    total = 0.0
    for i in range(r.randint(1, 6)):
        q, p = r.randint(1, 3), r.randint(50, 5000) / 100.0
        total += q * p
        lines.append(("%d X %.2f %s ITEM" % (q, p, r.choice(WORDS)), 20, False))
        lines.append(("%.2f" % (q * p), 380, True))
    total = round(total, 2)
    tax = round(total * 0.06, 2)
    grand = round(total + tax, 2)
    lines.append(("SUBTOTAL", 20, False))
    lines.append(("%.2f" % total, 380, True))
    lines.append(("GST 6%", 20, False))
    lines.append(("%.2f" % tax, 380, True))
    lines.append((r.choice(["TOTAL:", "GRAND TOTAL", "TOTAL (RM)", "NETT TOTAL"]), 20, False))
    lines.append(("%.2f" % grand, 380, True))
    cash = float(int(grand) + r.choice([1, 5, 10, 50]))
    lines.append(("CASH", 20, False))
    lines.append(("%.2f" % cash, 380, True))
    lines.append(("CHANGE", 20, False))
    lines.append(("%.2f" % (cash - grand), 380, True))
    lines.append(("THANK YOU. PLEASE COME AGAIN", 60, False))
    box, y = [], 20
    for text, x, same in lines:
        if not same:
            y += 28
        w = 8 * len(text)
        box.append("%d,%d,%d,%d,%d,%d,%d,%d,%s" % (x, y, x + w, y, x + w, y + 18, x, y + 18, text))
    key = {"company": vendor, "date": date, "address": " ".join(addr_lines), "total": "%.2f" % grand}
    return box, key


TOPICS = {
    "hardware": ["printer", "toner", "paper jam", "monitor", "keyboard", "laptop screen", "docking station"],
    "access": ["password", "login", "account locked", "vpn access", "permission", "mfa token"],
    "billing": ["invoice", "payment", "refund", "credit note", "purchase order", "billing address"],
    "software": ["excel crash", "outlook", "update failed", "license key", "install request"],
}
FILLER = ["please", "help", "hello", "thanks", "team", "today", "again", "office", "since",
          "morning", "issue", "colleague", "asap", "regards", "kindly", "check"]


def ticket(r):
    cat = r.choice(list(TOPICS))
    if r.random() < 0.15:  # some noise so the classes are not trivially separable
        words = [r.choice(TOPICS[r.choice(list(TOPICS))]) for _ in range(2)]
    else:
        words = [r.choice(TOPICS[cat]) for _ in range(3)]
    title = "%s %s" % (words[0], r.choice(["problem", "request", "question", "not working"]))
    body = " ".join(r.choice(FILLER) for _ in range(r.randint(3, 12))) + " " + " ".join(words)
    prio = "high" if r.random() < 0.3 and cat in ("access", "hardware") else "normal"
    if "asap" in body:
        prio = "high"
    return {"text": title + "\n" + body, "category": cat, "priority": prio}


COMPANY_A = ["Acme", "Nordwind", "Bluebird", "Kestrel", "Meridian", "Harbor", "Summit", "Orchid",
             "Granite", "Silverline", "Evergreen", "Pioneer", "Atlas", "Lumen", "Cobalt"]
COMPANY_B = ["Supplies", "Logistics", "Office Solutions", "Industrial", "Trading", "Consulting",
             "Components", "Services", "Hardware", "Systems"]
COMPANY_C = ["GmbH", "Ltd", "Inc.", "LLC", "S.A.", "B.V.", "Sdn Bhd", "AG", "Limited"]
PLACES = [("Musterstrasse %d", "10115 Berlin", "Germany"), ("%d High Street", "Manchester M1 2AB", "United Kingdom"),
          ("%d Market Street", "San Francisco, CA 94103", "USA"), ("Keizersgracht %d", "1015 CX Amsterdam", "Netherlands"),
          ("%d Jalan Ampang", "50450 Kuala Lumpur", "Malaysia"), ("Rue de Rivoli %d", "75001 Paris", "France")]
CURR = [("EUR", "EUR", "%s EUR"), ("EUR", "\u20ac", "\u20ac%s"), ("USD", "USD", "USD %s"), ("USD", "$", "$%s"),
        ("GBP", "GBP", "GBP %s"), ("GBP", "\u00a3", "\u00a3%s"), ("MYR", "RM", "RM %s"), ("CHF", "CHF", "CHF %s")]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def money(v, r):
    return "{:,.2f}".format(v) if v >= 1000 and r.random() < 0.6 else "%.2f" % v


def invoice(r):
    name = "%s %s %s" % (r.choice(COMPANY_A), r.choice(COMPANY_B), r.choice(COMPANY_C))
    street, town, country = r.choice(PLACES)
    street = street % r.randint(1, 250)
    addr = [street + ",", town + ",", country] if r.random() < 0.5 else ["%s, %s, %s" % (street, town, country)]
    y, m, d = r.choice([2023, 2024, 2025]), r.randint(1, 12), r.randint(1, 28)
    date = r.choice(["%02d.%02d.%d" % (d, m, y), "%d-%02d-%02d" % (y, m, d), "%02d/%02d/%d" % (d, m, y),
                     "%s %d, %d" % (MONTHS[m - 1], d, y), "%d %s %d" % (d, MONTHS[m - 1], y)])
    due = "%02d.%02d.%d" % (r.randint(1, 28), (m % 12) + 1, y)
    inv = r.choice(["INV-%d-%04d" % (y, r.randint(1, 9999)), "%d%05d" % (y, r.randint(1, 99999)),
                    "RE%06d" % r.randint(1, 999999), "A-%d" % r.randint(1000, 99999)])
    po = r.choice(["PO-%05d" % r.randint(1, 99999), "45%08d" % r.randint(0, 10**8 - 1), "P%06d" % r.randint(1, 999999)])
    has_po = r.random() < 0.7
    iso, sym, fmt = r.choice(CURR)
    lines = []
    if r.random() < 0.5:
        lines += ["From: %s <billing@%s.example>" % (name, name.split()[0].lower()),
                  "Subject: %s %s" % (r.choice(["Invoice", "Your invoice", "Rechnung"]), inv), "",
                  r.choice(["Dear customer,", "Hello,", "Good morning,"]),
                  "please find our invoice below.", ""]
    lines.append(name.upper() if r.random() < 0.5 else name)
    lines += addr
    lines.append("Tel: +%d %d %d" % (r.randint(1, 99), r.randint(10, 999), r.randint(100000, 9999999)))
    lines.append(r.choice(["VAT ID: DE%09d" % r.randint(0, 10**9 - 1), "Company No. %08d" % r.randint(0, 10**8 - 1)]))
    lines.append(r.choice(["INVOICE", "Invoice", "TAX INVOICE"]))
    def labelled(label, value):
        # label and value on one line, or the value on the line below (PDF text)
        if r.random() < 0.25:
            lines.extend([label, value])
        else:
            lines.append("%s %s" % (label, value))
    labelled(r.choice(["Invoice No:", "Invoice Number:", "Invoice #", "Inv. No."]), inv)
    labelled(r.choice(["Invoice Date:", "Date:", "Dated"]), date)
    if has_po:
        labelled(r.choice(["PO Number:", "P.O. No.", "Your order:", "Purchase Order:"]), po)
    if r.random() < 0.5:
        lines.append("Bill to: %s %s" % (r.choice(COMPANY_A), r.choice(["Retail", "Foods", "Media"])))
    if r.random() < 0.5:
        lines.append("Description Qty Unit price Amount")
    sub = 0.0
    for i in range(r.randint(1, 5)):
        q, p = r.randint(1, 20), r.randint(100, 90000) / 100.0
        sub += q * p
        lines.append("%s %d %s %s" % (r.choice(["Widget", "Service hours", "Cable", "Licence", "Freight"]), q,
                                       money(p, r), money(q * p, r)))
    sub = round(sub, 2)
    tax = round(sub * r.choice([0.06, 0.19, 0.2, 0.0]), 2)
    total = round(sub + tax, 2)
    total_s = money(total, r)
    lines.append("Subtotal %s" % money(sub, r))
    lines.append("VAT %s" % money(tax, r))
    lines.append("%s %s" % (r.choice(["Total:", "Total due", "Amount due", "TOTAL", "Grand total"]), fmt % total_s))
    lines.append("Payment due by %s. %s" % (due, r.choice(["Thank you for your business.", "Bank: IBAN DE89 3704 0044 0532 0130 00"])))
    key = {"company": name.upper() if lines.count(name.upper()) else name, "date": date,
           "address": " ".join(addr), "total": total_s, "invoice_number": inv, "currency": iso}
    if has_po:
        key["po_number"] = po
    return lines, key


def main():
    kind, out, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    r = random.Random(seed)
    if kind == "receipts":
        os.makedirs(os.path.join(out, "box"), exist_ok=True)
        os.makedirs(os.path.join(out, "key"), exist_ok=True)
        for i in range(n):
            box, key = receipt(r)
            with open(os.path.join(out, "box", "%03d.csv" % i), "w") as f:
                f.write("\n".join(box) + "\n")
            with open(os.path.join(out, "key", "%03d.json" % i), "w") as f:
                json.dump(key, f, indent=4)
    elif kind == "invoices":
        os.makedirs(os.path.join(out, "text"), exist_ok=True)
        os.makedirs(os.path.join(out, "key"), exist_ok=True)
        for i in range(n):
            lines, key = invoice(r)
            with open(os.path.join(out, "text", "%03d.txt" % i), "w") as f:
                f.write("\n".join(lines) + "\n")
            with open(os.path.join(out, "key", "%03d.json" % i), "w") as f:
                json.dump(key, f, indent=4, ensure_ascii=False)
    else:
        with open(out, "w") as f:
            for i in range(n):
                f.write(json.dumps(ticket(r)) + "\n")


main()
