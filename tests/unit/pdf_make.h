/* A PDF built in memory for the unit tests of the PDF worker (text and
 * page rendering): `pages` pages that all show one uncompressed content
 * stream, in `pdf` / `pdf_len`. Header-only, as tap.h. */
#ifndef BP_TEST_PDF_MAKE_H
#define BP_TEST_PDF_MAKE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *pdf;     /* the document being built */
static size_t pdf_len, pdf_cap;

static void put(const char *s, size_t n)
{
    if (pdf_len + n + 1 > pdf_cap) {
        pdf_cap = (pdf_len + n + 1) * 2;
        pdf = realloc(pdf, pdf_cap);
    }
    memcpy(pdf + pdf_len, s, n);
    pdf_len += n;
}

static void puts_(const char *s) { put(s, strlen(s)); }

/* A PDF of `pages` pages that all show one content stream (uncompressed). */
static void make_pdf(int pages, const char *content)
{
    pdf_len = 0;
    size_t off[1024];
    int n = 0;
    char buf[256];
    puts_("%PDF-1.4\n");
    off[n++] = pdf_len;
    puts_("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[n++] = pdf_len;
    puts_("2 0 obj\n<< /Type /Pages /Kids [");
    for (int i = 0; i < pages; i++) {
        snprintf(buf, sizeof(buf), "%d 0 R ", 5 + i);
        puts_(buf);
    }
    snprintf(buf, sizeof(buf), "] /Count %d >>\nendobj\n", pages);
    puts_(buf);
    off[n++] = pdf_len;
    puts_("3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n");
    off[n++] = pdf_len;
    snprintf(buf, sizeof(buf), "4 0 obj\n<< /Length %zu >>\nstream\n", strlen(content));
    puts_(buf);
    puts_(content);
    puts_("\nendstream\nendobj\n");
    for (int i = 0; i < pages; i++) {
        off[n++] = pdf_len;
        snprintf(buf, sizeof(buf),
                 "%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                 "<< /Font << /F1 3 0 R >> >> /Contents 4 0 R >>\nendobj\n", 5 + i);
        puts_(buf);
    }
    size_t xref = pdf_len;
    snprintf(buf, sizeof(buf), "xref\n0 %d\n0000000000 65535 f \n", n + 1);
    puts_(buf);
    for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "%010zu 00000 n \n", off[i]);
        puts_(buf);
    }
    snprintf(buf, sizeof(buf), "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", n + 1, xref);
    puts_(buf);
}

#endif
