/* pdfbox: a PDF's text as SROIE-style box lines via poppler-glib (dev tool).
 * Lines are poppler's text lines, split where the gap between characters is
 * wider than the line's height (columns); pages stacked vertically. */
#include <poppler.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
static void flush(GString *s, double b[4]) {
    while (s->len && s->str[s->len-1]==' ') g_string_truncate(s, s->len-1);
    if (s->len && b[0] < 1e8) printf("%d,%d,%d,%d,%d,%d,%d,%d,%s\n",(int)b[0],(int)b[1],(int)b[2],(int)b[1],(int)b[2],(int)b[3],(int)b[0],(int)b[3],s->str);
    g_string_truncate(s,0); b[0]=b[1]=1e9; b[2]=b[3]=-1e9;
}
int main(int argc, char **argv) {
    gchar *uri = g_filename_to_uri(argv[1], NULL, NULL);
    GError *e = NULL;
    PopplerDocument *doc = poppler_document_new_from_file(uri, NULL, &e);
    if (!doc) { fprintf(stderr, "%s: %s\n", argv[1], e->message); return 1; }
    double yoff = 0;
    for (int p = 0; p < poppler_document_get_n_pages(doc); p++) {
        PopplerPage *pg = poppler_document_get_page(doc, p);
        double w, h; poppler_page_get_size(pg, &w, &h);
        char *text = poppler_page_get_text(pg);
        PopplerRectangle *r; guint n;
        poppler_page_get_text_layout(pg, &r, &n);
        GString *s = g_string_new(""); double b[4] = {1e9,1e9,-1e9,-1e9}; double lastx = -1;
        const char *q = text; guint i = 0;
        while (*q && i < n) {
            gunichar c = g_utf8_get_char(q); const char *nx = g_utf8_next_char(q);
            PopplerRectangle *R = &r[i];
            if (c == '\n') { flush(s, b); lastx = -1; }
            else if (g_unichar_isspace(c)) { if (s->len && s->str[s->len-1] != ' ') g_string_append_c(s, ' '); }
            else {
                double ch = R->y2 - R->y1;
                if (lastx >= 0 && R->x1 - lastx > 1.2 * ch) flush(s, b);
                else if (lastx >= 0 && R->x1 < lastx - 2 * ch) flush(s, b);
                g_string_append_len(s, q, nx - q);
                if (R->x1 < b[0]) b[0] = R->x1; if (R->y1 + yoff < b[1]) b[1] = R->y1 + yoff;
                if (R->x2 > b[2]) b[2] = R->x2; if (R->y2 + yoff > b[3]) b[3] = R->y2 + yoff;
                lastx = R->x2;
            }
            q = nx; i++;
        }
        flush(s, b);
        g_string_free(s, TRUE); g_free(r); g_free(text); g_object_unref(pg);
        yoff += h;
    }
    return 0;
}
