#!/usr/bin/env python3
"""Score `eval extract --errors FILE` output against normalised invoice keys
(DIR/key/*.json: vendor, date as YYYY-MM-DD, total as 123.45, currency ISO)
with the comparison issue 19 lists: ISO dates equal, totals to the cent, ISO
currency, invoice number without spaces and '#', vendor equal after case,
punctuation and legal-form words are removed or one a word-prefix of the other.
A field missing from the errors file was an exact match. Stand-in until
`eval extract --format invoices` lands.

usage: score_invoices.py DATA_DIR ERRORS_FILE"""
import sys, os, json, re, unicodedata

MONTHS = {}
for i, names in enumerate([
    "jan january januar janvier januari enero gennaio styczen stycznia janv ene gen sty",
    "feb february februar fevrier februari febrero febbraio luty lutego fevr febr lut",
    "mar march marz maerz mars maart marzo marzec marca mrz maa",
    "apr april avril abril aprile kwiecien kwietnia avr kwi",
    "may mai mei mayo maggio maj maja mag",
    "jun june juni juin junio giugno czerwiec czerwca giu cze",
    "jul july juli juillet julio luglio lipiec lipca juil lug lip",
    "aug august aout augustus agosto sierpien sierpnia ago sie",
    "sep sept september septembre septiembre settembre wrzesien wrzesnia set wrz",
    "oct october oktober octobre octubre ottobre pazdziernik pazdziernika okt ott paz",
    "nov november novembre noviembre listopad listopada lis",
    "dec december dezember decembre diciembre dicembre grudzien grudnia dez dic gru"]):
    for n in names.split():
        MONTHS[n] = i + 1

def fold(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c)).lower()

def norm_date(s):
    s = fold(s.strip())
    m = re.search(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", s)
    if m: return "%04d-%02d-%02d" % (int(m[1]), int(m[2]), int(m[3]))
    m = re.search(r"(\d{1,2})[-/. ]+(\d{1,2})[-/. ]+(\d{2,4})", s)
    if m:
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
        if mo > 12 and d <= 12: d, mo = mo, d
        if y < 100: y += 2000
        return "%04d-%02d-%02d" % (y, mo, d)
    m = re.search(r"(\d{1,2})\.?\s*([a-z]+)\.?,?\s*(\d{4})", s)
    if m and m[2] in MONTHS: return "%04d-%02d-%02d" % (int(m[3]), MONTHS[m[2]], int(m[1]))
    m = re.search(r"([a-z]+)\.?\s*(\d{1,2}),?\s*(\d{4})", s)
    if m and m[1] in MONTHS: return "%04d-%02d-%02d" % (int(m[3]), MONTHS[m[1]], int(m[2]))
    return s

def norm_total(s):
    t = re.sub(r"[^\d.,']", "", s).replace("'", "")
    if re.search(r",\d{2}$", t): t = t.replace(".", "").replace(",", ".")
    else: t = t.replace(",", "")
    try: return "%.2f" % float(t)
    except ValueError: return s

LEGAL = set("gmbh ltd limited inc llc bv b v sa s a ag kg co pty plc sarl srl sl spa corp corporation nv n v oy ab as".split())
def norm_vendor(s):
    w = [x for x in re.sub(r"[^\w\s]", " ", fold(s)).split() if x not in LEGAL]
    return w

def same(field, got, want):
    if field == "date": return norm_date(got) == norm_date(want)
    if field == "total": return norm_total(got) == norm_total(want)
    if field == "currency": return got.strip().upper() == want.strip().upper()
    if field == "invoice_number":
        f = lambda x: re.sub(r"[\s#]", "", x).upper()
        return f(got) == f(want)
    if field in ("company", "vendor"):
        a, b = norm_vendor(got), norm_vendor(want)
        if not a or not b: return False
        return a == b or a[:len(b)] == b or b[:len(a)] == a
    return got.strip() == want.strip()

data, errf = sys.argv[1], sys.argv[2]
got = {}
for line in open(errf, encoding="utf-8"):
    p = line.rstrip("\n").split("\t")
    if len(p) >= 5:
        got[(p[0], p[1])] = p[3][5:-1]
hits = tot = 0
per = {}
for f in sorted(os.listdir(data + "/key")):
    name = f[:-5]
    key = json.load(open(data + "/key/" + f))
    for fld, want in key.items():
        if fld == "file" or not isinstance(want, str): continue
        ef = "company" if fld == "vendor" else fld
        g = got.get((name, ef))
        ok = True if g is None else same(fld, g, want)
        if not ok: print("miss %s %s got [%s] want [%s]" % (name, fld, g, want))
        per.setdefault(fld, [0, 0]); per[fld][0] += ok; per[fld][1] += 1
        hits += ok; tot += 1
for fld, (h, n) in per.items(): print("%s %d/%d %.4f" % (fld, h, n, h / n))
print("accuracy=%.4f" % (hits / tot))
