/* PDF -> text per page with poppler-glib, so an extraction transform can
 * read an invoice that arrived as an attachment. */
#include <stdlib.h>
#include <string.h>
#include <poppler.h>

#include "text_extract.h"

cJSON *pdf_page_texts(const unsigned char *bytes, size_t len, int max_pages, int *n_pages,
                      char **err)
{
    *n_pages = 0;
    GError *gerr = NULL;
    GBytes *gb = g_bytes_new_static(bytes, len);
    PopplerDocument *doc = poppler_document_new_from_bytes(gb, NULL, &gerr);
    g_bytes_unref(gb);
    if (doc == NULL) {
        *err = strdup(gerr && gerr->message ? gerr->message : "not a PDF");
        if (gerr)
            g_error_free(gerr);
        return NULL;
    }
    cJSON *pages = cJSON_CreateArray();
    int n = poppler_document_get_n_pages(doc);
    *n_pages = n;
    for (int i = 0; pages && i < n && i < max_pages; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *text = page ? poppler_page_get_text(page) : NULL;
        /* poppler writes UTF-8; a damaged font map can still yield invalid
         * sequences, which JSON cannot carry. */
        char *valid = text ? g_utf8_make_valid(text, -1) : NULL;
        cJSON *s = cJSON_CreateString(valid ? valid : "");
        if (s == NULL) {
            cJSON_Delete(pages);
            pages = NULL;
        } else {
            cJSON_AddItemToArray(pages, s);
        }
        g_free(valid);
        g_free(text);
        if (page)
            g_object_unref(page);
    }
    g_object_unref(doc);
    if (pages == NULL)
        *err = strdup("out of memory");
    return pages;
}
