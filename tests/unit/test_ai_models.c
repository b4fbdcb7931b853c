/* Unit tests of the learned models behind the extract and classify plugins:
 * training on a small synthetic slice learns something measurable, model
 * files round-trip exactly, and damaged model files are refused with a clear
 * message instead of a crash. The data is generated here (the project's tests
 * never need the shared data sets). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../plugins/classify/classify_model.h"
#include "../../plugins/extract/extract_memory.h"
#include "../../plugins/extract/extract_model.h"
#include "../../plugins/ml/ml_model.h"
#include "tap.h"

static uint32_t rng = 20261123u;
static uint32_t rnd(uint32_t n)
{
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 8) % n;
}

/* ---- synthetic receipts ------------------------------------------------- */

static const char *const vendors[] = {"KEDAI RUNCIT MAJU SDN BHD", "ALPHA TRADING ENTERPRISE",
                                      "RESTORAN SELERA KITA", "BETA HARDWARE SDN BHD",
                                      "GAMMA STATIONERY & BOOKS", "DELTA MART SDN BHD",
                                      "OMEGA CAFE ENTERPRISE", "SIGMA PHARMACY SDN BHD"};
static const char *const streets[] = {"NO 12, JALAN MAWAR 3,", "LOT 45, JALAN INDAH 2,",
                                      "NO.7 JALAN BESAR,", "NO 88, JALAN SS 2/4,"};
static const char *const towns[] = {"TAMAN SRI MUDA, 40400 SHAH ALAM", "TAMAN DAYA, 81100 JOHOR BAHRU",
                                    "BANDAR BARU, 43300 SERI KEMBANGAN", "SEKSYEN 9, 43200 CHERAS"};
static const char *const staff[] = {"TAN AH KOW", "SITI AMINAH", "RAJ KUMAR", "LEE MEI LING"};

typedef struct {
    char text[128];
} tline;

/* Builds one receipt into ex (doc and labels). */
static void make_receipt(ex_example *ex, int with_boxes)
{
    tline l[32];
    int n = 0;
    const char *vendor = vendors[rnd(8)];
    char street[64], town[64], date[32], total[32], addr[160];
    snprintf(street, sizeof street, "%s", streets[rnd(4)]);
    snprintf(town, sizeof town, "%s", towns[rnd(4)]);
    snprintf(addr, sizeof addr, "%s %s", street, town);
    snprintf(date, sizeof date, "%02u/%02u/2018", 1 + rnd(28), 1 + rnd(12));
    if (rnd(3) == 0)
        snprintf(l[n++].text, 128, "%s", staff[rnd(4)]); /* a name above the vendor */
    snprintf(l[n++].text, 128, "%s", vendor);
    snprintf(l[n++].text, 128, "(%u-%c)", 100000 + rnd(800000), 'A' + (char)rnd(26));
    snprintf(l[n++].text, 128, "%s", street);
    snprintf(l[n++].text, 128, "%s", town);
    snprintf(l[n++].text, 128, "TEL: 03-%u", 1000000 + rnd(8000000));
    snprintf(l[n++].text, 128, "MEMBER VALID UNTIL %02u/%02u/2020", 1 + rnd(28), 1 + rnd(12));
    snprintf(l[n++].text, 128, "TAX INVOICE");
    snprintf(l[n++].text, 128, "DATE: %s %02u:%02u", date, rnd(24), rnd(60));
    int items = 1 + (int)rnd(5);
    double sum = 0;
    for (int i = 0; i < items; i++) {
        double price = (double)(50 + rnd(3000)) / 100.0;
        sum += price;
        snprintf(l[n++].text, 128, "ITEM %d x1 %.2f", i + 1, price);
    }
    double tax = floor(sum * 6) / 100.0;
    snprintf(l[n++].text, 128, "SUBTOTAL %.2f", sum);
    snprintf(l[n++].text, 128, "GST 6%% %.2f", tax);
    snprintf(total, sizeof total, "%.2f", sum + tax);
    snprintf(l[n++].text, 128, "TOTAL %s", total);
    double cash = ceil(sum + tax + 1 + rnd(20));
    snprintf(l[n++].text, 128, "CASH %.2f", cash);
    snprintf(l[n++].text, 128, "CHANGE %.2f", cash - (sum + tax));
    snprintf(l[n++].text, 128, "THANK YOU, PLEASE COME AGAIN");
    ex_doc_init(&ex->doc);
    for (int i = 0; i < n; i++) {
        double box[4] = {20 + rnd(40), 30.0 * i, 400, 30.0 * i + 20};
        ex_doc_add(&ex->doc, l[i].text, strlen(l[i].text), with_boxes ? box : NULL);
    }
    ex_doc_finish(&ex->doc);
    ex->label[EX_COMPANY] = strdup(vendor);
    ex->label[EX_ADDRESS] = strdup(addr);
    ex->label[EX_DATE] = strdup(date);
    ex->label[EX_TOTAL] = strdup(total);
    ex->name = strdup("synthetic");
}

static void free_examples(ex_example *ex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ex_doc_free(&ex[i].doc);
        for (int f = 0; f < EX_NFIELDS; f++)
            free(ex[i].label[f]);
        free(ex[i].name);
    }
    free(ex);
}

/* Correct fields over examples [from, to). */
static int score(const ex_model *m, const ex_example *ex, size_t from, size_t to, int field)
{
    int ok = 0;
    ex_cands c = {0};
    for (size_t i = from; i < to; i++) {
        char *v;
        float conf;
        if (ex_predict(m, &ex[i].doc, field, &c, &v, &conf) == 0 && v &&
            strcmp(v, ex[i].label[field]) == 0)
            ok++;
        free(v);
    }
    ex_cands_free(&c);
    return ok;
}

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/bp-ai-%d-%s", dir, (int)getpid(), name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char *buf = malloc(1 << 22);
    *n = fread(buf, 1, 1 << 22, f);
    fclose(f);
    return buf;
}

static void test_extract(void)
{
    enum { N = 80, TRAIN = 50 };
    ex_example *ex = calloc(N, sizeof(ex_example));
    for (int i = 0; i < N; i++)
        make_receipt(&ex[i], i % 4 != 0);
    ex_prepared prep;
    CHECK(ex_prepare(&prep, ex, N) == 0);
    unsigned char use[N];
    for (int i = 0; i < N; i++)
        use[i] = i < TRAIN;
    ex_model m, zero;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "unit");
    CHECK(ex_train(&m, &prep, use, 20, NULL) == 0);
    CHECK(ex_calibrate(&m, &prep, use, 20, 3) == 0);
    CHECK(m.temp[EX_TOTAL] > 0.05f && m.temp[EX_TOTAL] < 20 && m.reach[EX_TOTAL] == 1.0f);
    ex_prepared_free(&prep);
    /* Untrained: every weight zero, so the ranker cannot prefer anything. */
    zero = m;
    memset(zero.w, 0, sizeof zero.w);
    memset(zero.h, 0, sizeof zero.h);
    for (int f = 0; f <= EX_TOTAL; f++) {
        int got = score(&m, ex, TRAIN, N, f), base = score(&zero, ex, TRAIN, N, f);
        printf("# %s: trained %d/%d held-out correct, untrained %d\n", ex_field_names[f], got,
               N - TRAIN, base);
        CHECK(m.has[f]);
        CHECK(got >= (N - TRAIN) * 9 / 10);
        CHECK(got > base);
    }
    CHECK(!m.has[EX_INVOICE_NUMBER]); /* no labels, no weights */

    /* Round trip: same weights bit for bit, same answers. */
    char err[512];
    const char *path = tmp_path("extract.model");
    CHECK(ex_model_save(&m, path, err, sizeof err) == 0);
    ex_model back;
    CHECK(ex_model_load(&back, path, err, sizeof err) == 0);
    CHECK(memcmp(back.w, m.w, sizeof m.w) == 0);
    CHECK(memcmp(back.temp, m.temp, sizeof m.temp) == 0 && memcmp(back.reach, m.reach, sizeof m.reach) == 0);
    CHECK(memcmp(back.has, m.has, sizeof m.has) == 0);
    CHECK_STR(back.name, "unit");
    CHECK_INT(score(&back, ex, TRAIN, N, EX_TOTAL), score(&m, ex, TRAIN, N, EX_TOTAL));
    /* Confidence is a probability. */
    ex_cands c = {0};
    char *v;
    float conf = -1;
    CHECK(ex_predict(&m, &ex[TRAIN].doc, EX_DATE, &c, &v, &conf) == 0);
    CHECK(conf > 0.5f && conf <= 1.0f);
    free(v);
    ex_cands_free(&c);

    /* Damaged files: a clear message, never a crash. */
    size_t len;
    unsigned char *bytes = read_bytes(path, &len);
    CHECK(bytes != NULL && len > 100);
    const char *bad = tmp_path("bad.model");
    write_bytes(bad, bytes, len / 2);
    CHECK(ex_model_load(&back, bad, err, sizeof err) != 0);
    CHECK(strstr(err, "checksum mismatch") != NULL && strstr(err, bad) == err);
    printf("# truncated: %s\n", err);
    bytes[len / 3] ^= 0x40;
    write_bytes(bad, bytes, len);
    CHECK(ex_model_load(&back, bad, err, sizeof err) != 0);
    CHECK(strstr(err, "checksum mismatch") != NULL);
    write_bytes(bad, "hello world, not a model", 24);
    CHECK(ex_model_load(&back, bad, err, sizeof err) != 0);
    CHECK(strstr(err, "not a backplane model file") != NULL);
    write_bytes(bad, "", 0);
    CHECK(ex_model_load(&back, bad, err, sizeof err) != 0);
    CHECK(ex_model_load(&back, tmp_path("missing.model"), err, sizeof err) != 0);
    CHECK(strstr(err, "No such file") != NULL);
    free(bytes);

    /* Well-formed containers with the wrong content. */
    float five[5] = {1, 2, 3, 4, 5};
    ml_model *ml = ml_model_new();
    ml_model_add_str(ml, "kind", "extract");
    ml_model_add_str(ml, "features", EX_FEATURE_SET);
    ml_model_add_f32(ml, "w.total", five, 5);
    CHECK(ex_model_from_ml(&back, ml, err, sizeof err) != 0);
    char want[80];
    snprintf(want, sizeof want, "section 'w.total' has 5 weights, expected %d", EX_NFEAT);
    CHECK_STR(err, want);
    ml_model_free(ml);
    ml = ml_model_new();
    float wz[EX_NFEAT] = {0}, zero_t = 0;
    ml_model_add_str(ml, "kind", "extract");
    ml_model_add_str(ml, "features", EX_FEATURE_SET);
    ml_model_add_f32(ml, "w.total", wz, EX_NFEAT);
    ml_model_add_f32(ml, "t.total", &zero_t, 1);
    CHECK(ex_model_from_ml(&back, ml, err, sizeof err) != 0);
    CHECK_STR(err, "section 't.total' must be one temperature from 0.01 to 100");
    ml_model_free(ml);
    ml = ml_model_new();
    ml_model_add_str(ml, "kind", "extract");
    ml_model_add_str(ml, "features", EX_FEATURE_SET);
    ml_model_add_f32(ml, "w.total", wz, EX_NFEAT);
    ml_model_add_f32(ml, "h.total", five, 5);
    CHECK(ex_model_from_ml(&back, ml, err, sizeof err) != 0);
    snprintf(want, sizeof want, "section 'h.total' has 5 weights, expected %d", EX_NHASH);
    CHECK_STR(err, want);
    ml_model_free(ml);
    ml = ml_model_new();
    ml_model_add_str(ml, "kind", "extract");
    ml_model_add_str(ml, "features", "extract-features-0");
    CHECK(ex_model_from_ml(&back, ml, err, sizeof err) != 0);
    CHECK(strstr(err, "retrain it") != NULL);
    ml_model_free(ml);
    ml = ml_model_new();
    ml_model_add_str(ml, "kind", "classify");
    CHECK(ex_model_from_ml(&back, ml, err, sizeof err) != 0);
    CHECK_STR(err, "not an extract model (kind 'classify')");
    ml_model_free(ml);
    /* A NaN weight is refused by the container parser. */
    ml = ml_model_new();
    float nan_w[1] = {NAN};
    ml_model_add_f32(ml, "x", nan_w, 1);
    CHECK(ml_model_save(ml, bad, err, sizeof err) == 0);
    ml_model_free(ml);
    CHECK((ml = ml_model_load(bad, err, sizeof err)) == NULL);
    CHECK(strstr(err, "non-finite") != NULL);
    remove(bad);
    remove(path);
    free_examples(ex, N);
}

/* ---- synthetic tickets -------------------------------------------------- */

static const char *const topics[3][4] = {
    {"printer", "toner", "paper jam", "monitor flickers"},
    {"password", "login fails", "account locked", "access denied"},
    {"invoice", "payment", "refund", "billing address"}};
static const char *const filler[] = {"please", "help", "urgent", "thanks", "hello", "team",
                                     "today", "again", "office", "since morning"};

static void make_ticket(char *buf, size_t n, int cls)
{
    snprintf(buf, n, "%s problem\n%s %s %s %s %s", topics[cls][rnd(4)], filler[rnd(10)],
             topics[cls][rnd(4)], filler[rnd(10)], filler[rnd(10)], topics[cls][rnd(4)]);
}

static void test_classify(void)
{
    enum { N = 150, TRAIN = 100 };
    cl_data d = {.x = calloc(N, sizeof(cl_vec)), .y = calloc(N, sizeof(int)), .n = N};
    char text[256];
    int failed = 0;
    for (int i = 0; i < N; i++) {
        d.y[i] = (int)rnd(3);
        make_ticket(text, sizeof text, d.y[i]);
        failed += cl_featurize(text, 1024, &d.x[i]) != 0 || d.x[i].n == 0;
        cl_weigh(&d.x[i], NULL);
    }
    CHECK_INT(failed, 0);
    cl_model m = {.buckets = 1024, .nclass = 3};
    snprintf(m.name, sizeof m.name, "tickets");
    m.labels = calloc(3, sizeof(char *));
    m.labels[0] = strdup("hardware");
    m.labels[1] = strdup("access");
    m.labels[2] = strdup("billing");
    m.w = calloc(1024 * 3, sizeof(float));
    m.b = calloc(3, sizeof(float));
    unsigned char use[N];
    for (int i = 0; i < N; i++)
        use[i] = i < TRAIN;
    CHECK(cl_train(&m, &d, use, 5) == 0);
    int ok = 0;
    float p[3];
    for (int i = TRAIN; i < N; i++) {
        cl_predict(&m, &d.x[i], p);
        int b = p[1] > p[0] ? 1 : 0;
        b = p[2] > p[b] ? 2 : b;
        ok += b == d.y[i];
    }
    printf("# classify: %d/%d held-out correct\n", ok, N - TRAIN);
    CHECK(ok >= (N - TRAIN) * 9 / 10);
    CHECK(fabsf(p[0] + p[1] + p[2] - 1) < 1e-4f);

    /* Round trip. */
    char err[512];
    const char *path = tmp_path("classify.model");
    m.temperature = 1.5f;
    CHECK(cl_model_save(&m, path, err, sizeof err) == 0);
    cl_model back;
    CHECK(cl_model_load(&back, path, err, sizeof err) == 0);
    CHECK_INT(back.nclass, 3);
    CHECK_STR(back.labels[2], "billing");
    CHECK(back.temperature == 1.5f);
    CHECK(memcmp(back.w, m.w, 1024 * 3 * sizeof(float)) == 0);
    float q[3];
    cl_predict(&back, &d.x[N - 1], q);
    cl_predict(&m, &d.x[N - 1], p);
    CHECK(memcmp(p, q, sizeof p) == 0);
    cl_model_free(&back);
    /* Loading it as an extract model names the problem. */
    ex_model em;
    CHECK(ex_model_load(&em, path, err, sizeof err) != 0);
    CHECK(strstr(err, "not an extract model") != NULL);
    /* Inconsistent sections. */
    ml_model *ml = ml_model_new();
    float bk = 1024, t = 1, b2[2] = {0, 0};
    ml_model_add_str(ml, "kind", "classify");
    ml_model_add_str(ml, "features", CL_FEATURE_SET);
    ml_model_add_str(ml, "labels", "a\nb\nc");
    ml_model_add_f32(ml, "buckets", &bk, 1);
    ml_model_add_f32(ml, "temperature", &t, 1);
    ml_model_add_f32(ml, "b", b2, 2);
    ml_model_add_f32(ml, "w", m.w, 1024 * 3);
    CHECK(cl_model_from_ml(&back, ml, err, sizeof err) != 0);
    CHECK(strstr(err, "3 labels, but 2 biases") != NULL);
    ml_model_free(ml);
    remove(path);
    cl_model_free(&m);

    /* Temperature: a classifier that says 0.99 but is right 70% of the time
     * gets a temperature that brings its confidence down to about 0.7. */
    enum { M = 1000 };
    float *z = calloc(M * 2, sizeof(float));
    int *y = calloc(M, sizeof(int));
    for (int i = 0; i < M; i++) {
        z[2 * i] = 5; /* always says class 0, with logit gap 5 */
        y[i] = i % 10 < 7 ? 0 : 1;
    }
    float temp = cl_fit_temperature(z, y, M, 2);
    double conf = 1 / (1 + exp(-5 / temp));
    printf("# temperature %.3f, calibrated confidence %.3f\n", temp, conf);
    CHECK(temp > 1);
    CHECK(fabs(conf - 0.7) < 0.01);
    free(z);
    free(y);
    for (int i = 0; i < N; i++)
        cl_vec_free(&d.x[i]);
    free(d.x);
    free(d.y);
}

/* The container itself: CRC known answer, and parsing stops at each defect. */
static void test_container(void)
{
    CHECK(ml_crc32((const unsigned char *)"123456789", 9) == 0xCBF43926u);
    ml_model *ml = ml_model_new();
    float v[3] = {1.5f, -2, 0};
    CHECK(ml_model_add_f32(ml, "v", v, 3) == 0);
    CHECK(ml_model_add_f32(ml, "v", v, 3) != 0); /* duplicate name */
    CHECK(ml_model_add_str(ml, "s", "hello") == 0);
    char err[512];
    const char *path = tmp_path("container.model");
    CHECK(ml_model_save(ml, path, err, sizeof err) == 0);
    ml_model_free(ml);
    size_t len;
    unsigned char *b = read_bytes(path, &len);
    ml = ml_model_parse(b, len, err, sizeof err);
    CHECK(ml != NULL);
    uint32_t n = 0;
    const float *got = ml ? ml_model_get0_f32(ml, "v", &n) : NULL;
    CHECK(got && n == 3 && got[0] == 1.5f && got[1] == -2);
    CHECK_STR(ml ? ml_model_get0_str(ml, "s") : NULL, "hello");
    CHECK(ml && ml_model_get0_str(ml, "v") == NULL); /* wrong type */
    ml_model_free(ml);
    /* Every proper prefix is refused. */
    int refused = 0;
    for (size_t k = 0; k < len; k++) {
        ml_model *p = ml_model_parse(b, k, err, sizeof err);
        refused += p == NULL;
        ml_model_free(p);
    }
    CHECK_INT(refused, (long long)len);
    free(b);
    remove(path);
}

/* Whether a field of a one-page document (lines of {x0, y0, text}) offers
 * the candidate text want. */
static int has_cand(const char *const *lines, const int *xy, size_t n, int field, const char *want)
{
    ex_doc d;
    ex_doc_init(&d);
    for (size_t i = 0; i < n; i++) {
        double box[4] = {xy[2 * i], xy[2 * i + 1], xy[2 * i] + 6.0 * (double)strlen(lines[i]),
                         xy[2 * i + 1] + 9};
        ex_doc_add(&d, lines[i], strlen(lines[i]), box);
    }
    ex_doc_finish(&d);
    ex_cands c;
    memset(&c, 0, sizeof c);
    int found = 0;
    if (ex_candidates(&d, field, &c) == 0)
        for (size_t i = 0; i < c.n; i++)
            found |= strcmp(c.c[i].text, want) == 0;
    ex_cands_free(&c);
    ex_doc_free(&d);
    return found;
}

/* Invoices in other languages and number formats offer their values as
 * candidates (issue 19: 1.234,56 and month names were not candidates). */
static void test_invoice_candidates(void)
{
    const char *de[] = {"Medienpilot GmbH & Co. KG \xe2\x80\xa2 Am Saueracker 23 \xe2\x80\xa2 91244 Reichenschwand",
                        "SimFin Analytics GmbH", "Rechnungsdatum: 4. Juli 2023",
                        "Rechnungs-Nr", "02581", "Zwischensumme", "1.000,00 \xe2\x82\xac",
                        "Gesamtbetrag", "1.190,00 \xe2\x82\xac"};
    const int dexy[] = {60, 160, 60, 178, 350, 150, 350, 172, 500, 172, 300, 400, 495, 400,
                        300, 420, 495, 420};
    size_t nde = sizeof de / sizeof de[0];
    CHECK(has_cand(de, dexy, nde, EX_TOTAL, "1.190,00"));
    CHECK(has_cand(de, dexy, nde, EX_TOTAL, "1.000,00"));
    CHECK(has_cand(de, dexy, nde, EX_DATE, "4. Juli 2023"));
    CHECK(has_cand(de, dexy, nde, EX_INVOICE_NUMBER, "02581"));
    CHECK(has_cand(de, dexy, nde, EX_COMPANY, "Medienpilot GmbH & Co. KG"));
    CHECK(has_cand(de, dexy, nde, EX_CURRENCY, "EUR"));
    const char *pl[] = {"Sprzedawca", "Kowalski Sp. z o.o.", "Data wystawienia: 14 czerwca 2025",
                        "Razem", "1 234,56 z\xc5\x82", "Suma 3'952.54 CHF"};
    const int plxy[] = {50, 60, 50, 75, 50, 120, 300, 400, 480, 400, 300, 420};
    size_t npl = sizeof pl / sizeof pl[0];
    CHECK(has_cand(pl, plxy, npl, EX_DATE, "14 czerwca 2025"));
    CHECK(has_cand(pl, plxy, npl, EX_TOTAL, "1 234,56"));
    CHECK(has_cand(pl, plxy, npl, EX_TOTAL, "3'952.54"));
    CHECK(has_cand(pl, plxy, npl, EX_CURRENCY, "PLN"));
    /* not amounts: a list, a thousands group without decimals */
    const char *no[] = {"Ref 1,23,45", "Qty 1,234"};
    const int noxy[] = {50, 60, 50, 75};
    CHECK(!has_cand(no, noxy, 2, EX_TOTAL, "1,23"));
    CHECK(!has_cand(no, noxy, 2, EX_TOTAL, "1,234"));
}

/* A vendor's memory: learnt from one reviewed document, it answers the
 * vendor's next one (same VAT id) and not another vendor's. */
static void test_vendor_memory(void)
{
    const char *a[] = {"Northwind Traders Ltd", "Kestrel Logistics GmbH", "USt-IdNr. DE811234567",
                       "Invoice No: KL-1", "Total due EUR 1,428.00"};
    const char *b[] = {"Northwind Traders Ltd", "Kestrel Logistics GmbH", "USt-IdNr. DE811234567",
                       "Invoice No: KL-2", "Total due EUR 952.00"};
    const char *o[] = {"Northwind Traders Ltd", "Osprey Freight GmbH", "USt-IdNr. DE822222222",
                       "Invoice No: OF-7", "Total due EUR 310.00"};
    ex_doc da, db, dc;
    const char *const *src[3] = {a, b, o};
    ex_doc *docs[3] = {&da, &db, &dc};
    for (int k = 0; k < 3; k++) {
        ex_doc_init(docs[k]);
        for (int i = 0; i < 5; i++)
            ex_doc_add(docs[k], src[k][i], strlen(src[k][i]), NULL);
        ex_doc_finish(docs[k]);
    }
    ex_memory m;
    memset(&m, 0, sizeof m);
    ex_cands c;
    memset(&c, 0, sizeof c);
    char *label[EX_NFIELDS] = {0};
    label[EX_COMPANY] = "Kestrel Logistics GmbH";
    label[EX_INVOICE_NUMBER] = "KL-1";
    CHECK(ex_mem_learn(&m, &da, label, &c) == 0);
    CHECK(ex_mem_matches(&m, &db));
    CHECK(!ex_mem_matches(&m, &dc));
    char *v = NULL;
    float conf = 0;
    CHECK(ex_mem_predict(&m, &db, EX_COMPANY, &c, &v, &conf) == 0);
    CHECK_STR(v, "Kestrel Logistics GmbH");
    CHECK(conf >= 0.99f);
    free(v);
    /* a varying field: the same label, its own value */
    CHECK(ex_mem_predict(&m, &db, EX_INVOICE_NUMBER, &c, &v, &conf) == 0);
    CHECK_STR(v, "KL-2");
    free(v);
    CHECK(ex_mem_prefer(EX_COMPANY, 1.0f, 1, 0.99f));
    CHECK(!ex_mem_prefer(EX_TOTAL, 0.95f, 1, 0.8f));
    CHECK(ex_mem_prefer(EX_TOTAL, 0.95f, 1, 0.3f));
    ex_mem_free(&m);
    ex_cands_free(&c);
    for (int k = 0; k < 3; k++)
        ex_doc_free(docs[k]);
}

int main(void)
{
    test_container();
    test_extract();
    test_invoice_candidates();
    test_vendor_memory();
    test_classify();
    return tap_done();
}
