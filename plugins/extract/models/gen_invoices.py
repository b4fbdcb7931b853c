#!/usr/bin/env python3
"""Generated invoices with layout, for training the shipped `invoices` model.

  gen_invoices.py DIR N SEED  -> DIR/box/NNNNN.csv (SROIE layout: one text line per
                                 row with its box, pages stacked), DIR/key/NNNNN.json

Each invoice draws a layout (sender block left or right, meta block as a
label/value table or label: value lines, items table with column headers,
totals block right-aligned, footer with legal lines), a language (EN DE FR NL
ES IT PL, labels from several synonyms each), a number format (1,234.56 /
1.234,56 / 1'234.56 / 1 234,56), a date format (numeric or month names), and
decoys: order/delivery/due dates beside the invoice date, subtotal and tax
lines above the total, amounts paid / balance, the customer's name and address
block (with its own legal form) beside the vendor's, customer and order numbers
beside the invoice number; sometimes two pages, noise lines and split rows.
Labels are the values as printed (the ranker picks printed text; normalising
is a separate step).
"""
import json, os, random, sys

L = {
 "en": dict(inv=["Invoice", "INVOICE", "Tax Invoice", "Receipt"], num=["Invoice number", "Invoice No.", "Invoice #", "Invoice no:", "Number"],
            date=["Invoice date", "Date", "Date of issue", "Issue date", "Invoice Date:"], odate=["Order date", "Delivery date", "Service period", "Date paid"],
            due=["Due date", "Payment due", "Due"], po=["PO number", "Purchase order", "PO #", "Your order"], cust=["Bill to", "Billed to", "Invoice to", "Customer", "Sold to"],
            cno=["Customer number", "Account ID", "Customer ID"], sub=["Subtotal", "Net amount", "Total excl. VAT", "Amount excl. tax"],
            tax=["VAT 20%", "Tax (19%)", "Sales tax", "VAT"], tot=["Total", "Total due", "Amount due", "Grand total", "Total (incl. VAT)", "Amount paid", "Balance due"],
            paid=["Amount paid", "Paid", "Payment"], bal=["Balance", "Remaining"], item=["Description", "Item"], qty=["Qty", "Quantity"], price=["Unit price", "Price"], amt=["Amount", "Total"],
            thanks=["Thank you for your business!", "Questions? Contact us", "Page 1 of 1"], vat=["VAT ID", "VAT No.", "Tax ID"]),
 "de": dict(inv=["Rechnung", "RECHNUNG", "Rechnung Nr."], num=["Rechnungsnummer", "Rechnungs-Nr.", "Rechnungsnr.", "Beleg-Nr.", "Nummer"],
            date=["Rechnungsdatum", "Datum", "Belegdatum", "Rechnungsdatum:"], odate=["Lieferdatum", "Leistungsdatum", "Bestelldatum", "Leistungszeitraum"],
            due=["Fällig am", "Zahlbar bis", "Fälligkeitsdatum"], po=["Bestellnummer", "Ihre Bestellung", "Auftragsnummer"], cust=["Rechnungsempfänger", "Kunde", "An"],
            cno=["Kundennummer", "Ihre Kundennr.", "Kunden-Nr."], sub=["Zwischensumme", "Nettobetrag", "Summe netto", "Zwischensumme (zzgl. MwSt.)"],
            tax=["zzgl. 19% MwSt.", "MwSt. 19%", "USt. 19 %", "Umsatzsteuer 7%"], tot=["Gesamtbetrag", "Rechnungsbetrag", "Gesamt", "Summe", "Endbetrag", "Zu zahlen", "Gesamtsumme"],
            paid=["Bezahlt", "Bereits gezahlt"], bal=["Offener Betrag", "Restbetrag"], item=["Beschreibung", "Leistung", "Artikel"], qty=["Menge", "Anzahl"], price=["Einzelpreis", "Preis"], amt=["Gesamt", "Betrag"],
            thanks=["Vielen Dank für Ihren Auftrag!", "Seite 1 von 1", "Bitte überweisen Sie den Betrag"], vat=["USt-IdNr.", "USt-ID", "Steuernummer"]),
 "fr": dict(inv=["Facture", "FACTURE"], num=["N° de facture", "Numéro de facture", "Facture n°", "Réf."], date=["Date de facture", "Date", "Date d'émission", "Le"],
            odate=["Date de commande", "Date de livraison", "Période"], due=["Date d'échéance", "Échéance", "À payer avant"], po=["Bon de commande", "N° de commande", "Votre commande"],
            cust=["Facturé à", "Client", "Adresse de facturation"], cno=["N° client", "Code client"], sub=["Sous-total", "Total HT", "Montant HT"],
            tax=["TVA 20%", "TVA (20 %)", "TVA"], tot=["Total TTC", "Montant TTC", "Net à payer", "Total", "Montant total"], paid=["Payé", "Acompte"], bal=["Reste à payer", "Solde"],
            item=["Désignation", "Description"], qty=["Qté", "Quantité"], price=["Prix unitaire", "P.U. HT"], amt=["Montant", "Total HT"],
            thanks=["Merci pour votre confiance", "Page 1/1"], vat=["N° TVA", "TVA intracom.", "SIRET"]),
 "nl": dict(inv=["Factuur", "FACTUUR"], num=["Factuurnummer", "Factuurnr.", "Nummer"], date=["Factuurdatum", "Datum"], odate=["Leverdatum", "Orderdatum", "Periode"],
            due=["Vervaldatum", "Te betalen voor"], po=["Ordernummer", "Uw referentie", "Inkoopordernummer"], cust=["Factuur aan", "Klant", "Aan"], cno=["Klantnummer", "Debiteurnummer"],
            sub=["Subtotaal", "Totaal excl. btw", "Netto"], tax=["BTW 21%", "Btw (21%)", "BTW 9%"], tot=["Totaal", "Totaal incl. btw", "Te betalen", "Totaalbedrag"],
            paid=["Betaald", "Voldaan"], bal=["Openstaand", "Saldo"], item=["Omschrijving", "Product"], qty=["Aantal"], price=["Prijs", "Stukprijs"], amt=["Bedrag", "Totaal"],
            thanks=["Bedankt voor uw bestelling", "Pagina 1 van 1"], vat=["BTW-nummer", "Btw-nr.", "KvK"]),
 "es": dict(inv=["Factura", "FACTURA"], num=["Número de factura", "Factura n.º", "N.º factura", "Nº"], date=["Fecha de factura", "Fecha", "Fecha de emisión"],
            odate=["Fecha de pedido", "Fecha de entrega", "Periodo"], due=["Fecha de vencimiento", "Vencimiento"], po=["Pedido", "N.º de pedido", "Orden de compra"],
            cust=["Facturar a", "Cliente", "Datos del cliente"], cno=["N.º cliente", "Código cliente"], sub=["Subtotal", "Base imponible", "Importe neto"],
            tax=["IVA 21%", "IVA (21 %)", "IVA"], tot=["Importe total", "Total", "Total factura", "Total a pagar"], paid=["Pagado", "Anticipo"], bal=["Pendiente", "Saldo"],
            item=["Concepto", "Descripción"], qty=["Cantidad", "Cant."], price=["Precio", "Precio unitario"], amt=["Importe", "Total"],
            thanks=["Gracias por su confianza", "Página 1 de 1"], vat=["NIF", "CIF", "N.º IVA"]),
 "it": dict(inv=["Fattura", "FATTURA"], num=["Numero fattura", "Fattura n.", "N. fattura", "Numero"], date=["Data fattura", "Data", "Data emissione"],
            odate=["Data ordine", "Data consegna", "Periodo"], due=["Scadenza", "Data scadenza"], po=["Ordine n.", "Rif. ordine", "Vostro ordine"],
            cust=["Destinatario", "Cliente", "Spett.le"], cno=["Codice cliente", "Cod. cliente"], sub=["Imponibile", "Subtotale", "Totale imponibile"],
            tax=["IVA 22%", "IVA (22%)", "IVA"], tot=["Totale", "Totale fattura", "Totale documento", "Netto a pagare", "Importo totale"], paid=["Pagato", "Acconto"], bal=["Residuo", "Saldo"],
            item=["Descrizione", "Articolo"], qty=["Quantità", "Q.tà"], price=["Prezzo", "Prezzo unitario"], amt=["Importo", "Totale"],
            thanks=["Grazie per averci scelto", "Pagina 1 di 1"], vat=["P.IVA", "Partita IVA", "C.F."]),
 "pl": dict(inv=["Faktura", "FAKTURA VAT", "Faktura VAT"], num=["Numer faktury", "Faktura nr", "Nr faktury", "Numer"], date=["Data wystawienia", "Data", "Data faktury"],
            odate=["Data sprzedaży", "Data dostawy", "Data zamówienia"], due=["Termin płatności", "Płatne do"], po=["Zamówienie nr", "Nr zamówienia"],
            cust=["Nabywca", "Odbiorca", "Klient"], cno=["Nr klienta", "ID klienta"], sub=["Wartość netto", "Razem netto", "Suma netto"],
            tax=["VAT 23%", "Podatek VAT 23%", "VAT"], tot=["Razem", "Do zapłaty", "Razem brutto", "Wartość brutto", "Suma"], paid=["Zapłacono"], bal=["Pozostało do zapłaty"],
            item=["Nazwa", "Opis"], qty=["Ilość", "Ilo."], price=["Cena netto", "Cena"], amt=["Wartość", "Kwota"],
            thanks=["Dziękujemy", "Strona 1 z 1"], vat=["NIP", "VAT UE", "REGON"]),
}
MONTHS = {
 "en": "January February March April May June July August September October November December",
 "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
 "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
 "nl": "januari februari maart april mei juni juli augustus september oktober november december",
 "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
 "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
 "pl": "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada grudnia",
}
LEGAL = {"en": ["Ltd", "Limited", "Inc.", "LLC", "Inc", "Pty Ltd", "plc", "Corp."], "de": ["GmbH", "AG", "GmbH & Co. KG", "UG (haftungsbeschränkt)", "e.K."],
         "fr": ["SAS", "SARL", "S.A."], "nl": ["B.V.", "BV", "N.V."], "es": ["S.L.", "S.A.", "SL"], "it": ["S.r.l.", "S.p.A.", "SRL"], "pl": ["Sp. z o.o.", "S.A."]}
SYL = "ka lo mi net ra vi so lu tech data soft cloud pix flow nova zen byte link core mark hub grid sky bloom tera quanta opti media print form logi base".split()
STREETS = {"en": "%d %s Street", "de": "%sstraße %d", "fr": "%d rue %s", "nl": "%sstraat %d", "es": "Calle %s %d", "it": "Via %s %d", "pl": "ul. %s %d"}
CITIES = {"en": ["London EC1A 1BB", "San Francisco, CA 94107", "Dublin 2", "New York, NY 10001", "Sydney NSW 2000"], "de": ["10115 Berlin", "80331 München", "53229 Bonn", "20095 Hamburg"],
          "fr": ["75008 Paris", "69002 Lyon"], "nl": ["1012 AB Amsterdam", "3011 Rotterdam"], "es": ["28001 Madrid", "08002 Barcelona"], "it": ["20121 Milano", "00184 Roma"], "pl": ["00-001 Warszawa", "30-001 Kraków"]}
CUR = {"en": ["USD", "GBP", "EUR", "INR"], "de": ["EUR", "CHF"], "fr": ["EUR"], "nl": ["EUR"], "es": ["EUR"], "it": ["EUR"], "pl": ["PLN", "EUR"]}
SYM = {"USD": ["$", "USD", "US$"], "EUR": ["€", "EUR"], "GBP": ["£", "GBP"], "INR": ["₹", "Rs", "INR"], "CHF": ["CHF"], "PLN": ["zł", "PLN"]}

def name(r, lang):
    w = "".join(r.choice(SYL) for _ in range(r.randint(1, 3))).capitalize()
    if r.random() < 0.3: w += " " + r.choice(["Software", "Media", "Analytics", "Solutions", "Labs", "Services", "Consulting", "Design", "Systems"])
    return w

def money(r, v, fmt):
    s = "%.2f" % v
    ip, dp = s.split(".")
    g = []
    while len(ip) > 3: g.insert(0, ip[-3:]); ip = ip[:-3]
    g.insert(0, ip)
    th, dec = {"us": (",", "."), "eu": (".", ","), "ch": ("'", "."), "sp": (" ", ","), "plain": ("", ".")}[fmt]
    return th.join(g) + dec + dp

def datestr(r, lang, y, m, d, fmt):
    mn = MONTHS[lang].split()[m - 1]
    return {0: "%02d.%02d.%d" % (d, m, y), 1: "%02d/%02d/%d" % (d, m, y), 2: "%d-%02d-%02d" % (y, m, d), 3: "%d %s %d" % (d, mn, y),
            4: "%s %d, %d" % (mn, d, y), 5: "%d. %s %d" % (d, mn, y), 6: "%02d/%02d/%d" % (m, d, y), 7: "%s %d, %d" % (mn[:3], d, y), 8: "%d %s %d" % (d, mn[:3], y)}[fmt]

def invoice(r):
    lang = r.choice(["en", "en", "en", "de", "de", "fr", "nl", "es", "it", "pl"])
    T = L[lang]; pick = lambda k: r.choice(T[k])
    vendor = name(r, lang) + " " + r.choice(LEGAL[lang] + ([""] if r.random() < 0.3 else []))
    vendor = vendor.strip()
    cust = name(r, lang) + " " + r.choice(LEGAL[lang])
    street = lambda: STREETS[lang] % ((r.randint(1, 200), name(r, lang)) if lang in ("en", "fr") else (name(r, lang), r.randint(1, 200)))
    cur = r.choice(CUR[lang]); sym = r.choice(SYM[cur])
    nfmt = {"en": r.choice(["us", "us", "plain"]), "de": r.choice(["eu", "eu", "ch"]), "fr": r.choice(["sp", "eu"]), "pl": r.choice(["sp", "eu"])}.get(lang, "eu")
    if cur == "CHF": nfmt = "ch"
    dfmt = r.choice({"en": [1, 2, 3, 4, 7, 8, 6], "de": [0, 0, 5, 2]}.get(lang, [0, 1, 3, 2]))
    y, m, dd = r.choice([2022, 2023, 2024, 2025]), r.randint(1, 12), r.randint(1, 28)
    date = datestr(r, lang, y, m, dd, dfmt)
    other = lambda: datestr(r, lang, y, r.randint(1, 12), r.randint(1, 28), dfmt)
    invno = r.choice(["%d" % r.randint(1000, 9999999), "INV-%05d" % r.randint(1, 99999), "%s-%d-%04d" % (r.choice(["RE", "FV", "F", "AT"]), y, r.randint(1, 9999)),
                      "%08X-%04d" % (r.randint(0, 2**32 - 1), r.randint(1, 99)), "%d/%02d/%d" % (r.randint(1, 300), m, y)])
    po = "PO-%d" % r.randint(10000, 99999) if r.random() < 0.4 else None
    rows = []  # (x0, y, text, page)
    page = [0]; y0 = [60.0]
    def line(x, text, dy=13, same=False):
        if not same: y0[0] += dy
        if y0[0] > 780:
            page[0] += 1; y0[0] = 60.0
        rows.append((x, y0[0] + page[0] * 842, text))
    def right(xr, text, same=True):
        line(xr - 5.2 * len(text), text, same=same)
    vx, cx = (350, 50) if r.random() < 0.5 else (50, 330)
    # a browser's print header: "Invoice | vendor.com", a URL
    if r.random() < 0.12:
        line(0, "%s | %s.com" % (pick("inv"), vendor.split()[0]), 0)
        line(400, "https://billing.%s.com/invoice?id=%d" % (vendor.split()[0].lower(), r.randint(10**6, 10**8)), same=True)
    # header: a title, noise, then the vendor block (sometimes only in the footer)
    if r.random() < 0.5: line(r.choice([50, 350, 400]), pick("inv") + r.choice(["", "", " / Receipt", " " + invno]))
    if r.random() < 0.15: line(r.choice([50, 350]), r.choice(["Summary", "Original", "Page 1 of 2", "Copy", "Seite 1"]))
    nohead = r.random() < 0.15
    if nohead: vendor_only_footer = True
    else:
        if r.random() < 0.3: line(vx, r.choice(["Seller:", "From", "Provided by:", "Verkäufer", "Vendeur", "Verkoper", "Vendedor", "Sprzedawca", "Fornitore"]), 16)
        line(vx, vendor, 16)
        if r.random() < 0.2: line(vx, r.choice(["Greg Tomasik", "Jane Roe", "Accounts Team"]), same=True) if False else None
    for t in [] if nohead else [street(), r.choice(CITIES[lang])] + ([("%s: %s%d" % (pick("vat"), lang.upper(), r.randint(10**8, 10**9)))] if r.random() < 0.6 else []) + \
             ([r.choice(["info@", "billing@", "support@"]) + vendor.split()[0].lower() + ".com"] if r.random() < 0.5 else []):
        line(vx, t)
    y0[0] = 60.0 + r.randint(0, 30) if vx == 350 and r.random() < 0.6 else y0[0] + 20
    # sender line in the address window
    if r.random() < 0.4: line(cx, "%s • %s • %s" % (vendor, street(), r.choice(CITIES[lang])), 20)
    if r.random() < 0.7: line(cx, pick("cust") + (":" if r.random() < 0.5 else ""), 12)
    if r.random() < 0.3: line(cx, r.choice(["Buyer:", "Billing Contact:", "BILLED TO:", "Kunde", "Nabywca"]), 12)
    line(cx, cust, 13)
    if r.random() < 0.3: line(cx, r.choice(["E-mail: ", ""]) + r.choice(["f.wolf", "anna.smith", "t.mueller"]) + "@" + cust.split()[0].lower() + ".com")
    if r.random() < 0.5: line(cx, r.choice(["Thomas Müller", "Anna Smith", "J. Dupont", "Jan de Vries"]))
    cs, cc = street(), r.choice(CITIES[lang])
    line(cx, cs); line(cx, cc)
    if r.random() < 0.25:  # a ship-to block beside the bill-to block: the customer twice
        y0[0] -= 13 * 4
        sx = cx + 150
        line(sx, r.choice(["Ship to", "Deliver to", "Lieferadresse", "Adresse de livraison", "Afleveradres"]))
        line(sx, cust + r.choice(["", " |"])); line(sx, cs); line(sx, cc)
    # meta block
    meta = [(pick("num"), invno, "n"), (pick("date"), date, "d")]
    if r.random() < 0.6: meta.append((pick("odate"), other(), "x"))
    if r.random() < 0.5: meta.append((pick("due"), other(), "x"))
    if r.random() < 0.5: meta.append((pick("cno"), "%d" % r.randint(10000, 99999), "x"))
    if po: meta.append((pick("po"), po, "p"))
    r.shuffle(meta)
    if meta[0][2] != "n" and r.random() < 0.5:
        meta.sort(key=lambda t: t[2] != "n")
    mx = r.choice([330, 350, 50])
    y0[0] += 20
    if r.random() < 0.5: line(mx, pick("inv"), 16)
    style = r.random()
    for lab, val, _ in meta:
        if style < 0.45:
            line(mx, lab); right(560, val)
        elif style < 0.8:
            line(mx, "%s: %s" % (lab, val))
        else:
            line(mx, lab); line(mx, val)
    # items table
    y0[0] += 25
    line(50, pick("item")); right(380, pick("qty")); right(460, pick("price")); right(560, pick("amt"))
    net = 0.0
    for i in range(r.randint(1, 8)):
        q = r.randint(1, 5); p = round(r.uniform(5, 400), 2) if r.random() < 0.8 else float(r.randint(5, 300))
        net += q * p
        line(50, r.choice(["Pro plan", "Consulting", "Monthly subscription", "Seats", "Hosting", "Lizenz", "Support", "Abonnement", "Licence"]) + ((" %d" % r.randint(1, 99)) if r.random() < 0.5 else ""))
        right(380, str(q)); right(460, money(r, p, nfmt)); right(560, money(r, q * p, nfmt) + (" " + sym if r.random() < 0.3 else ""))
        if r.random() < 0.25: line(60, r.choice(["%s - %s" % (other(), other()), "Billing period", "per user / month", other() + " -"]), 11)
    rate = r.choice([0, 0.07, 0.19, 0.2, 0.21, 0.22, 0.23])
    tax = round(net * rate, 2); total = round(net + tax, 2)
    tot_s = money(r, total, nfmt)
    wsym = r.random()
    def amt(v):
        s = money(r, v, nfmt)
        return (sym + " " + s) if wsym < 0.3 else (s + " " + sym) if wsym < 0.7 else s
    y0[0] += 15
    lx = r.choice([330, 360, 50])
    if r.random() < 0.8: line(lx, pick("sub")); right(560, amt(net))
    if rate or r.random() < 0.5: line(lx, pick("tax")); right(560, amt(tax))
    tl = pick("tot")
    tl = r.choice([tl, tl + ":", tl + " (" + cur + ")", tl.upper()])
    if r.random() < 0.75: line(lx, tl); right(560, amt(total))
    else: line(lx, "%s %s" % (tl, amt(total)))
    total_txt = tot_s
    if r.random() < 0.3:
        line(lx, pick("paid")); right(560, amt(total if r.random() < 0.5 else 0.0))
        if r.random() < 0.5: line(lx, pick("bal")); right(560, amt(0.0))
    # footer
    y0[0] += 30
    if r.random() < 0.5: line(50, r.choice(T["thanks"]))
    if r.random() < 0.6: line(50, "IBAN DE%020d BIC %sXXX" % (r.randint(0, 10**20 - 1), "ABCD"), 12)
    if nohead or r.random() < 0.6: line(50, "%s, %s, %s %s%d" % (vendor, street(), pick("vat"), lang.upper(), r.randint(10**8, 10**9)), 10)
    if r.random() < 0.1:
        for _ in range(r.randint(1, 4)): line(r.randint(40, 300), r.choice(["*", "---", "Seite 2", "Page 2 of 2", "www.example.com"]))
    key = {"vendor": vendor, "date": date, "total": total_txt, "currency": cur, "invoice_number": invno}
    if po: key["po_number"] = po
    return rows, key

def main():
    out, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    r = random.Random(seed)
    os.makedirs(out + "/box", exist_ok=True); os.makedirs(out + "/key", exist_ok=True)
    for i in range(n):
        rows, key = invoice(r)
        with open("%s/box/%05d.csv" % (out, i), "w", encoding="utf-8") as f:
            for x, y, t in rows:
                x1 = x + 5.2 * len(t)
                f.write("%d,%d,%d,%d,%d,%d,%d,%d,%s\n" % (x, y - 9, x1, y - 9, x1, y, x, y, t))
        json.dump(key, open("%s/key/%05d.json" % (out, i), "w", encoding="utf-8"), ensure_ascii=False)

main()
