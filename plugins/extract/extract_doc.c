/* extract_doc: lines, boxes and keyword flags. See extract_doc.h. */
#include "extract_doc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

void ex_box_of_corners(const double c[8], double box[4])
{
    box[0] = box[2] = c[0];
    box[1] = box[3] = c[1];
    for (int q = 1; q < 4; q++) {
        box[0] = c[2 * q] < box[0] ? c[2 * q] : box[0];
        box[2] = c[2 * q] > box[2] ? c[2 * q] : box[2];
        box[1] = c[2 * q + 1] < box[1] ? c[2 * q + 1] : box[1];
        box[3] = c[2 * q + 1] > box[3] ? c[2 * q + 1] : box[3];
    }
}

void ex_doc_init(ex_doc *d)
{
    memset(d, 0, sizeof(*d));
    d->has_boxes = 1;
}

void ex_doc_free(ex_doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->lines[i].text);
        free(d->lines[i].up);
    }
    free(d->lines);
    memset(d, 0, sizeof(*d));
}

int ex_doc_add(ex_doc *d, const char *text, size_t len, const double *box)
{
    while (len > 0 && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    if (len == 0)
        return 0;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        ex_line *l = realloc(d->lines, cap * sizeof(*l));
        if (l == NULL)
            return -1;
        d->lines = l;
        d->cap = cap;
    }
    ex_line *l = &d->lines[d->n];
    memset(l, 0, sizeof(*l));
    l->left_near = -1;
    l->text = malloc(len + 1);
    l->up = malloc(len + 1);
    if (l->text == NULL || l->up == NULL) {
        free(l->text);
        free(l->up);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        /* Control bytes (a NUL or tab in OCR output) become spaces so every
         * string downstream is one printable line. */
        char c = (unsigned char)text[i] < 32 ? ' ' : text[i];
        l->text[i] = c;
        l->up[i] = (char)toupper((unsigned char)c);
    }
    l->text[len] = l->up[len] = '\0';
    if (box) {
        l->x0 = (float)box[0];
        l->y0 = (float)box[1];
        l->x1 = (float)box[2];
        l->y1 = (float)box[3];
        if (l->x1 < l->x0) {
            float t = l->x0;
            l->x0 = l->x1;
            l->x1 = t;
        }
        if (l->y1 < l->y0) {
            float t = l->y0;
            l->y0 = l->y1;
            l->y1 = t;
        }
    } else {
        d->has_boxes = 0;
    }
    d->n++;
    return 0;
}

int ex_doc_add_paged(ex_doc *d, const char *text, size_t len, const double *box, int page)
{
    size_t before = d->n;
    double b[4];
    float pw = 1, ph = 1, off = 0;
    if (page >= 0 && page < d->n_pages && page < EX_MAX_PAGES) {
        pw = d->page_w[page] > 0 ? d->page_w[page] : 1;
        ph = d->page_h[page] > 0 ? d->page_h[page] : 1;
        for (int i = 0; i < page; i++)
            off += d->page_h[i];
    }
    if (box) {
        b[0] = box[0];
        b[1] = box[1] + off;
        b[2] = box[2];
        b[3] = box[3] + off;
    }
    if (ex_doc_add(d, text, len, box ? b : NULL) != 0)
        return -1;
    if (d->n > before) {
        ex_line *l = &d->lines[d->n - 1];
        l->page = page;
        if (box) {
            l->px0 = (float)box[0] / pw;
            l->py0 = (float)box[1] / ph;
            l->px1 = (float)box[2] / pw;
            l->py1 = (float)box[3] / ph;
        }
    }
    return 0;
}

const char *ex_find_word(const char *up, const char *kw)
{
    size_t kl = strlen(kw);
    for (const char *p = strstr(up, kw); p; p = strstr(p + 1, kw)) {
        int left_ok = p == up || !isalnum((unsigned char)p[-1]) || !isalnum((unsigned char)kw[0]);
        char after = p[kl];
        int right_ok = after == '\0' || !isalnum((unsigned char)after) ||
                       !isalnum((unsigned char)kw[kl - 1]);
        if (left_ok && right_ok)
            return p;
    }
    return NULL;
}

/* A 512-bit filter of the character pairs in a line: a keyword with a pair
 * the line lacks cannot be in it, which spares most strstr calls (the flags of
 * every line are computed against a few hundred keywords). */
typedef struct {
    uint64_t bits[8];
} ex_pairs;

static unsigned ex_pair_hash(unsigned char a, unsigned char b)
{
    return ((unsigned)a * 31u + (unsigned)b) & 511u;
}

static void ex_pairs_of(const char *up, ex_pairs *p)
{
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; up[i] && up[i + 1]; i++) {
        unsigned h = ex_pair_hash((unsigned char)up[i], (unsigned char)up[i + 1]);
        p->bits[h >> 6] |= 1ull << (h & 63);
    }
}

static int ex_pairs_may_hold(const ex_pairs *p, const char *kw)
{
    for (size_t i = 0; kw[i] && kw[i + 1]; i++) {
        unsigned h = ex_pair_hash((unsigned char)kw[i], (unsigned char)kw[i + 1]);
        if (!(p->bits[h >> 6] & (1ull << (h & 63))))
            return 0;
    }
    return 1;
}

static int ex_any(const char *up, const ex_pairs *p, const char *const *kws)
{
    for (; *kws; kws++)
        if (ex_pairs_may_hold(p, *kws) && ex_find_word(up, *kws))
            return 1;
    return 0;
}

static const char *const ex_kw_addr[] = {
    "JALAN", "JLN", "JL", "TAMAN", "TMN", "LOT", "LORONG", "LRG", "BANDAR", "BDR",
    "PERSIARAN", "KAMPUNG", "KG", "BLOK", "BLOCK", "WISMA", "PLAZA", "MENARA", "SEKSYEN",
    "SECTION", "FLOOR", "FLR", "ROAD", "RD", "STREET", "ST", "AVENUE", "PUSAT", "KAWASAN",
    "PERINDUSTRIAN", "INDUSTRI", "BATU", "SS", "USJ", "SUITE", "UNIT", "LEVEL", "BUILDING",
    "CENTRE", "CENTER", "MALL", "KOMPLEKS", "COMPLEX", "PARK", "SQUARE", "LANE", "DRIVE", NULL};
static const char *const ex_kw_place[] = {
    "SELANGOR", "JOHOR", "KUALA LUMPUR", "MALAYSIA", "PENANG", "PULAU PINANG", "PERAK", "KEDAH",
    "PAHANG", "MELAKA", "MALACCA", "NEGERI SEMBILAN", "KELANTAN", "TERENGGANU", "SABAH",
    "SARAWAK", "PUTRAJAYA", "DARUL EHSAN", "D.E", "SHAH ALAM", "PETALING JAYA", "KLANG",
    "PUCHONG", "CHERAS", "KEPONG", "JOHOR BAHRU", "SUBANG", "KAJANG", "SERI KEMBANGAN",
    "SEMENYIH", "RAWANG", "KL", "W.P", "SINGAPORE", "AMPANG", "SETAPAK", "DAMANSARA", "IPOH",
    "SEREMBAN", "GERMANY", "USA", "UK", "FRANCE", NULL};
static const char *const ex_kw_contact[] = {
    "TEL", "FAX", "PHONE", "H/P", "HP", "GST", "EMAIL", "E-MAIL", "WWW", "HTTP", "REG", "ROC",
    "CO NO", "CO. NO", "COMPANY NO", "BUSINESS NO", "TAX INVOICE", "INVOICE", "RECEIPT",
    "CASH BILL", "DATE", "CASHIER", "SST", "VAT", "TAX", "ID", NULL};
static const char *const ex_kw_compsuf[] = {
    "SDN BHD", "SDN. BHD", "SDN.BHD", "BHD", "BERHAD", "S/B", "SDN", "PLC", "LTD", "LIMITED",
    "INC", "LLC", "GMBH", "CORP", "CORPORATION", NULL};
static const char *const ex_kw_compkw[] = {
    "ENTERPRISE", "ENTERPRISES", "TRADING", "RESTORAN", "RESTAURANT", "STORE", "STORES", "MART",
    "SHOP", "CAFE", "HARDWARE", "STATIONERY", "BOOK", "BOOKS", "FARMASI", "PHARMACY",
    "MARKETING", "KEDAI", "COMPANY", "GROUP", "SUPERMARKET", "HOLDINGS", "INDUSTRIES",
    "SERVICES", "(M)", "CO.", "BAKERY", "FOOD", "HYPERMARKET", "ELECTRICAL", "MACHINERY", "GIFT",
    "TRADERS", "SYARIKAT", "RESTAURANT", "KITCHEN", "BISTRO", "TEA", "SUPPLY", "SUPPLIES", NULL};
static const char *const ex_kw_grand[] = {
    "GRAND TOTAL", "NETT", "NET TOTAL", "AMOUNT DUE", "TOTAL AMOUNT", "ROUNDED", "TOTAL PAYABLE",
    "TOTAL INCL", "JUMLAH", "TOTAL SALES", "NET AMOUNT", "BALANCE DUE", "AMOUNT PAYABLE", NULL};
static const char *const ex_kw_subtotal[] = {"SUBTOTAL", "SUB TOTAL", "SUB-TOTAL", "SUB TTL",
                                             NULL};
static const char *const ex_kw_tax[] = {"GST", "TAX", "SST", "SERVICE CHARGE", "SVC", "VAT",
                                        "SR", "ZR", NULL};
static const char *const ex_kw_cash[] = {"CASH", "TENDER", "TENDERED", "PAID", "PAYMENT", "VISA",
                                         "MASTER", "CARD", "CREDIT", "DEBIT", NULL};
static const char *const ex_kw_change[] = {"CHANGE", "CHANGE DUE", "BAL", NULL};
static const char *const ex_kw_round[] = {"ROUNDING", "ROUND", "ADJUSTMENT", "RND", "ADJ", NULL};
static const char *const ex_kw_disc[] = {"DISCOUNT", "DISC", "SAVING", "SAVINGS", "LESS", NULL};
static const char *const ex_kw_qty[] = {"QTY", "UNIT PRICE", "ITEM", "PRICE", "U.P", "@", NULL};
static const char *const ex_kw_date[] = {"DATE", "TARIKH", "DATED", "DATE:", NULL};
static const char *const ex_kw_inv[] = {
    "INVOICE NO", "INVOICE NUMBER", "INV NO", "INV. NO", "INV NO.", "INVOICE #", "INVOICE:",
    "BILL NO", "RECEIPT NO", "RECEIPT #", "DOC NO", "DOCUMENT NO", "TRANS NO", "SLIP NO",
    "CHECK NO", "NO. RESIT", "REF NO", "INVOICE", "RECEIPT", "BILL", "INV", NULL};
static const char *const ex_kw_po[] = {"PO NO", "P.O. NO", "P.O", "PO #", "PO:", "PO",
                                       "PURCHASE ORDER", "PO NUMBER", "ORDER NO", "YOUR ORDER",
                                       NULL};
static const char *const ex_kw_cur[] = {"RM", "MYR", "USD", "EUR", "GBP", "SGD", "CHF", "JPY",
                                        "$", "€", "£", NULL};
static const char *const ex_kw_footer[] = {"THANK", "THANKS", "TQ", "WELCOME", "GOODS SOLD",
                                           "RETURNABLE", "REFUNDABLE", "PLEASE", "CASH SALE",
                                           "COME AGAIN", "VISIT", NULL};
static const char *const ex_kw_due[] = {"DUE", "EXP", "EXPIRY", "VALID", "UNTIL", "PAYMENT DUE",
                                        NULL};

static int ex_has_postcode(const char *up)
{
    for (const char *p = up; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > up && isalnum((unsigned char)p[-1])))
            continue;
        int k = 0;
        while (isdigit((unsigned char)p[k]))
            k++;
        if (k == 5 && !isalnum((unsigned char)p[k]) && p[k] != '.' && p[k] != '-')
            return 1;
        p += k - 1;
    }
    return 0;
}

static int ex_has_reg(const char *up)
{
    /* (123456-X), 123456-W, CO.REG: ... */
    if (ex_find_word(up, "CO.REG") || ex_find_word(up, "CO. REG") || ex_find_word(up, "REG NO") ||
        ex_find_word(up, "COMPANY NO") || ex_find_word(up, "ROC"))
        return 1;
    for (const char *p = up; *p; p++) {
        if (*p != '-' || p == up)
            continue;
        int k = 0;
        while (p - 1 - k >= up && isdigit((unsigned char)p[-1 - k]))
            k++;
        if (k >= 4 && isalpha((unsigned char)p[1]) && !isalnum((unsigned char)p[2]))
            return 1;
    }
    return 0;
}

static int ex_has_time(const char *up)
{
    for (const char *p = up; *p; p++)
        if (*p == ':' && p > up && isdigit((unsigned char)p[-1]) && isdigit((unsigned char)p[1]) &&
            isdigit((unsigned char)p[2]))
            return 1;
    return 0;
}

static uint32_t ex_line_flags(const char *up)
{
    uint32_t f = 0;
    ex_pairs pairs;
    ex_pairs_of(up, &pairs);
    if (ex_any(up, &pairs, ex_kw_addr))
        f |= EX_L_ADDR;
    if (ex_has_postcode(up))
        f |= EX_L_POSTCODE;
    if (ex_any(up, &pairs, ex_kw_place))
        f |= EX_L_PLACE;
    if (ex_any(up, &pairs, ex_kw_contact) || strchr(up, '@'))
        f |= EX_L_CONTACT;
    if (ex_any(up, &pairs, ex_kw_compsuf))
        f |= EX_L_COMPSUF;
    if (ex_any(up, &pairs, ex_kw_compkw))
        f |= EX_L_COMPKW;
    if (ex_has_reg(up))
        f |= EX_L_REG;
    if (isdigit((unsigned char)up[0]) || strncmp(up, "NO", 2) == 0 || strncmp(up, "LOT", 3) == 0 ||
        strncmp(up, "UNIT", 4) == 0 || strncmp(up, "BLOCK", 5) == 0 || strncmp(up, "G-", 2) == 0)
        f |= EX_L_STARTNUM;
    size_t n = strlen(up);
    if (n && up[n - 1] == ',')
        f |= EX_L_ENDCOMMA;
    const char *t = ex_find_word(up, "TOTAL");
    if (t && !ex_any(up, &pairs, ex_kw_subtotal))
        f |= EX_L_TOTAL;
    if (ex_any(up, &pairs, ex_kw_grand))
        f |= EX_L_GRAND;
    if (ex_any(up, &pairs, ex_kw_subtotal))
        f |= EX_L_SUBTOTAL;
    if (ex_any(up, &pairs, ex_kw_tax))
        f |= EX_L_TAX;
    if (ex_any(up, &pairs, ex_kw_cash))
        f |= EX_L_CASH;
    if (ex_any(up, &pairs, ex_kw_change))
        f |= EX_L_CHANGE;
    if (ex_any(up, &pairs, ex_kw_round))
        f |= EX_L_ROUND;
    if (ex_any(up, &pairs, ex_kw_disc))
        f |= EX_L_DISC;
    if (ex_any(up, &pairs, ex_kw_qty))
        f |= EX_L_QTY;
    if (ex_any(up, &pairs, ex_kw_date))
        f |= EX_L_DATEKW;
    if (ex_any(up, &pairs, ex_kw_inv))
        f |= EX_L_INVKW;
    if (ex_any(up, &pairs, ex_kw_po))
        f |= EX_L_POKW;
    if (ex_has_time(up))
        f |= EX_L_TIME;
    if (ex_any(up, &pairs, ex_kw_cur))
        f |= EX_L_CURKW;
    if (ex_any(up, &pairs, ex_kw_due))
        f |= EX_L_DUEKW;
    if (ex_any(up, &pairs, ex_kw_footer))
        f |= EX_L_FOOTER;
    return f;
}

/* Label words by language: a document's language is the one whose words
 * its lines hold most often (word-bounded, upper case). */
static const struct {
    const char *lang;
    const char *const kw[16];
} ex_lang_words[] = {
    {"en", {"INVOICE", "DATE", "AMOUNT", "TOTAL", "DUE", "BILL TO", "PAID", "RECEIPT", "TAX",
            "DESCRIPTION", "QUANTITY", "PAYMENT", "SUBTOTAL", NULL}},
    {"de", {"RECHNUNG", "DATUM", "BETRAG", "GESAMT", "GESAMTBETRAG", "MWST", "UST", "SUMME",
            "ZAHLUNG", "RECHNUNGSNUMMER", "RECHNUNGSDATUM", "NETTO", "BRUTTO", "MENGE", NULL}},
    {"fr", {"FACTURE", "MONTANT", "TOTAL TTC", "TVA", "HT", "DATE DE FACTURE", "QUANTITÉ",
            "PAIEMENT", "ÉCHÉANCE", "NUMÉRO", NULL}},
    {"nl", {"FACTUUR", "DATUM", "BEDRAG", "TOTAAL", "BTW", "FACTUURNUMMER", "FACTUURDATUM",
            "AANTAL", "BETALING", NULL}},
    {"es", {"FACTURA", "FECHA", "IMPORTE", "IVA", "TOTAL A PAGAR", "CANTIDAD", "PAGO", NULL}},
    {"it", {"FATTURA", "IMPORTO", "TOTALE", "DATA FATTURA", "QUANTITÀ", "PAGAMENTO", NULL}},
    {"pl", {"FAKTURA", "RAZEM", "KWOTA", "NETTO", "BRUTTO", "DATA WYSTAWIENIA", "SPRZEDAWCA",
            "NABYWCA", "DO ZAPŁATY", NULL}},
};

static void ex_doc_guess_lang(ex_doc *d)
{
    int best = -1, best_n = 0;
    for (size_t k = 0; k < sizeof ex_lang_words / sizeof ex_lang_words[0]; k++) {
        int n = 0;
        for (size_t i = 0; i < d->n; i++)
            for (int w = 0; ex_lang_words[k].kw[w]; w++)
                n += ex_find_word(d->lines[i].up, ex_lang_words[k].kw[w]) != NULL;
        if (n > best_n)
            best_n = n, best = (int)k;
    }
    snprintf(d->lang, sizeof d->lang, "%s", best >= 0 ? ex_lang_words[best].lang : "");
}

int ex_doc_day_first(const ex_doc *d, const char *currency)
{
    if (d->lang[0] == '\0')
        return -1;
    if (strcmp(d->lang, "en") == 0)
        return currency && strcmp(currency, "USD") == 0 ? 0 : -1;
    return 1;
}

void ex_doc_finish(ex_doc *d)
{
    if (d->n == 0)
        return;
    if (d->has_boxes) {
        float mx = 1e-6f, my = 1e-6f, minx = d->lines[0].x0, miny = d->lines[0].y0;
        for (size_t i = 0; i < d->n; i++) {
            if (d->lines[i].x1 > mx)
                mx = d->lines[i].x1;
            if (d->lines[i].y1 > my)
                my = d->lines[i].y1;
            if (d->lines[i].x0 < minx)
                minx = d->lines[i].x0;
            if (d->lines[i].y0 < miny)
                miny = d->lines[i].y0;
        }
        float w = mx - minx > 1e-6f ? mx - minx : 1, h = my - miny > 1e-6f ? my - miny : 1;
        for (size_t i = 0; i < d->n; i++) {
            ex_line *l = &d->lines[i];
            l->x0 = (l->x0 - minx) / w;
            l->x1 = (l->x1 - minx) / w;
            l->y0 = (l->y0 - miny) / h;
            l->y1 = (l->y1 - miny) / h;
        }
    } else {
        /* No positions: one full-width row per line, top to bottom. */
        for (size_t i = 0; i < d->n; i++) {
            ex_line *l = &d->lines[i];
            l->x0 = 0;
            l->x1 = 1;
            l->y0 = (float)i / (float)d->n;
            l->y1 = (float)(i + 1) / (float)d->n;
        }
    }
    if (d->n_pages == 0)
        for (size_t i = 0; i < d->n; i++) {
            ex_line *l = &d->lines[i];
            l->px0 = l->x0;
            l->py0 = l->y0;
            l->px1 = l->x1;
            l->py1 = l->y1;
        }
    for (size_t i = 0; i < d->n; i++)
        d->lines[i].flags = ex_line_flags(d->lines[i].up);
    ex_doc_guess_lang(d);
    float h[256] = {0};
    size_t nh = d->n < 256 ? d->n : 256;
    for (size_t i = 0; i < nh; i++)
        h[i] = d->lines[i].y1 - d->lines[i].y0;
    for (size_t i = 1; i < nh; i++)
        for (size_t j = i; j > 0 && h[j - 1] > h[j]; j--) {
            float t = h[j];
            h[j] = h[j - 1];
            h[j - 1] = t;
        }
    d->median_height = h[nh / 2];
    if (!d->has_boxes)
        return;
    /* Lines to the left of each line: on the same row (vertical overlap of
     * at least half the smaller height), and the nearest one by distance of
     * the vertical centres (on a skewed photo an amount and its label
     * overlap by less than half). Lines of a receipt are few (tens), so the
     * quadratic scan is cheap. */
    for (size_t i = 0; i < d->n; i++) {
        ex_line *a = &d->lines[i];
        float ya = (a->y0 + a->y1) / 2, ha = a->y1 - a->y0, best = 1e9f;
        for (size_t j = 0; j < d->n; j++) {
            const ex_line *b = &d->lines[j];
            if (j == i || b->x1 > a->x0 + 0.02f)
                continue;
            float hb = b->y1 - b->y0, ov = (a->y1 < b->y1 ? a->y1 : b->y1) -
                                           (a->y0 > b->y0 ? a->y0 : b->y0);
            if (ov > 0.5f * (ha < hb ? ha : hb))
                a->row_left |= b->flags;
            float dy = fabsf((b->y0 + b->y1) / 2 - ya);
            if (dy < 0.9f * (ha > hb ? ha : hb) && dy < best) {
                best = dy;
                a->left_near = (int)j;
            }
        }
    }
}

int ex_doc_load_sroie(ex_doc *d, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[8192];
    int lineno = 0;
    while (fgets(buf, sizeof buf, f)) {
        lineno++;
        size_t len = strlen(buf);
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        if (len == 0)
            continue;
        /* A UTF-8 byte order mark on the first line. */
        char *p = buf;
        if (lineno == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3;
        double c[8];
        int k;
        for (k = 0; k < 8; k++) {
            char *end;
            c[k] = strtod(p, &end);
            if (end == p || *end != ',')
                break;
            p = end + 1;
        }
        if (k < 8) {
            snprintf(err, errlen, "%s:%d: expected 8 comma-separated coordinates before the text",
                     path, lineno);
            fclose(f);
            return -1;
        }
        double box[4];
        ex_box_of_corners(c, box);
        if (ex_doc_add(d, p, strlen(p), box) != 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    ex_doc_finish(d);
    return 0;
}

int ex_doc_load_text(ex_doc *d, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &cap, f)) != -1)
        if (ex_doc_add(d, line, (size_t)got, NULL) != 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            rc = -1;
            break;
        }
    free(line);
    fclose(f);
    if (rc == 0)
        ex_doc_finish(d);
    return rc;
}

/* ---- words with boxes -> lines (issue 19; shared with the transform, issue 15) ---- */

typedef struct {
    const char *t;
    double b[4];
    double yc, h;
} ex_word;

static int ex_cmp_yc(const void *a, const void *b)
{
    const ex_word *x = *(ex_word *const *)a, *y = *(ex_word *const *)b;
    return x->yc < y->yc ? -1 : x->yc > y->yc;
}

static int ex_cmp_x(const void *a, const void *b)
{
    const ex_word *x = *(ex_word *const *)a, *y = *(ex_word *const *)b;
    return x->b[0] < y->b[0] ? -1 : x->b[0] > y->b[0];
}

/* The words of one page as lines (see extract_doc.h; moved here from
 * extract_read.c for the transform's `layout`, issue 15): a row is the words
 * whose vertical centres lie within half a word height of the row's first;
 * in a row, a gap wider than the row's height starts a new line (a table
 * cell, an amount in its own column). */
int ex_doc_add_words(ex_doc *d, const cJSON *words, int page)
{
    int n = cJSON_GetArraySize(words);
    if (n <= 0)
        return 0;
    ex_word *w = calloc((size_t)n, sizeof *w);
    ex_word **idx = calloc((size_t)n, sizeof *idx);
    char *buf = NULL;
    size_t bufcap = 0;
    int rc = -1, k = 0;
    if (w == NULL || idx == NULL)
        goto out;
    for (const cJSON *it = words->child; it; it = it->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "t");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "b");
        if (!cJSON_IsString(t) || cJSON_GetArraySize(b) != 4)
            continue;
        ex_word *x = &w[k];
        x->t = t->valuestring;
        int j = 0;
        for (const cJSON *v = b->child; v && j < 4; v = v->next)
            x->b[j++] = cJSON_IsNumber(v) ? v->valuedouble : 0;
        x->h = x->b[3] - x->b[1] > 0.5 ? x->b[3] - x->b[1] : 0.5;
        x->yc = (x->b[1] + x->b[3]) / 2;
        idx[k] = x;
        k++;
    }
    qsort(idx, (size_t)k, sizeof *idx, ex_cmp_yc);
    for (int r = 0; r < k;) {
        int e = r + 1;
        double yc = idx[r]->yc, h = idx[r]->h;
        while (e < k && fabs(idx[e]->yc - yc) <= 0.5 * (idx[e]->h > h ? idx[e]->h : h)) {
            if (idx[e]->h > h)
                h = idx[e]->h;
            e++;
        }
        qsort(idx + r, (size_t)(e - r), sizeof *idx, ex_cmp_x);
        for (int s = r; s < e;) {
            int t = s + 1;
            while (t < e && idx[t]->b[0] - idx[t - 1]->b[2] <= h)
                t++;
            size_t len = 0;
            double box[4] = {idx[s]->b[0], idx[s]->b[1], idx[s]->b[2], idx[s]->b[3]};
            for (int q = s; q < t; q++) {
                size_t wl = strlen(idx[q]->t);
                if (len + wl + 2 > bufcap) {
                    size_t cap = (len + wl + 2) * 2;
                    char *nb = realloc(buf, cap);
                    if (nb == NULL)
                        goto out;
                    buf = nb;
                    bufcap = cap;
                }
                if (len)
                    buf[len++] = ' ';
                memcpy(buf + len, idx[q]->t, wl);
                len += wl;
                box[0] = fmin(box[0], idx[q]->b[0]);
                box[1] = fmin(box[1], idx[q]->b[1]);
                box[2] = fmax(box[2], idx[q]->b[2]);
                box[3] = fmax(box[3], idx[q]->b[3]);
            }
            if (len && ex_doc_add_paged(d, buf, len, box, page) != 0)
                goto out;
            s = t;
        }
        r = e;
    }
    rc = 0;
out:
    free(buf);
    free(idx);
    free(w);
    return rc;
}

