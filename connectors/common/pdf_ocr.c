/* Scans: a page without a text layer, or an image (PNG, JPEG, TIFF), read by
 * Tesseract into words with boxes. Linked into the PDF worker only (bp-pdf-text),
 * so that Tesseract, like poppler, runs under the worker's CPU limit and can
 * be killed; the plugins never load it. See pdf_ocr.h. */
#include "pdf_ocr.h"

#include <stdlib.h>
#include <string.h>
#include <cairo.h>
#include <poppler.h>
#include <tesseract/capi.h>
#include <leptonica/allheaders.h>

#include <cjson/cJSON.h>

/* Rendering resolution: 300 dpi is what Tesseract is trained for; lower
 * loses small print (the totals of a receipt). */
#define OCR_DPI 300.0

static TessBaseAPI *ocr_api;
static int ocr_failed;

static TessBaseAPI *ocr_get(void)
{
    if (ocr_api || ocr_failed)
        return ocr_api;
    ocr_api = TessBaseAPICreate();
    const char *langs = getenv("BP_OCR_LANGS");
    if (langs == NULL || *langs == '\0')
        langs = "eng+deu+fra+nld";
    if (ocr_api == NULL || TessBaseAPIInit3(ocr_api, NULL, langs) != 0) {
        if (ocr_api)
            TessBaseAPIDelete(ocr_api);
        ocr_api = NULL;
        ocr_failed = 1;
        return NULL;
    }
    /* A page of an invoice: columns and blocks, not one text column. */
    TessBaseAPISetPageSegMode(ocr_api, PSM_AUTO);
    return ocr_api;
}

/* Words of the image in api as JSON [{"t","b"}] with boxes scaled by scale
 * (pixels -> points), and the text (words joined, lines by newlines). */
static int ocr_collect(TessBaseAPI *api, double scale, char **words, char **text)
{
    *words = *text = NULL;
    if (TessBaseAPIRecognize(api, NULL) != 0)
        return -1;
    cJSON *arr = cJSON_CreateArray();
    size_t tcap = 4096, tlen = 0;
    char *t = malloc(tcap);
    if (arr == NULL || t == NULL) {
        cJSON_Delete(arr);
        free(t);
        return -1;
    }
    TessResultIterator *it = TessBaseAPIGetIterator(api);
    if (it) {
        TessPageIterator *pit = TessResultIteratorGetPageIterator(it);
        do {
            char *w = TessResultIteratorGetUTF8Text(it, RIL_WORD);
            int x0, y0, x1, y1;
            if (w && *w && TessPageIteratorBoundingBox(pit, RIL_WORD, &x0, &y0, &x1, &y1)) {
                cJSON *o = cJSON_CreateObject();
                double b[4] = {x0 * scale, y0 * scale, x1 * scale, y1 * scale};
                for (int k = 0; k < 4; k++)
                    b[k] = (double)(long)(b[k] * 100 + 0.5) / 100;
                cJSON_AddStringToObject(o, "t", w);
                cJSON_AddItemToObject(o, "b", cJSON_CreateDoubleArray(b, 4));
                cJSON_AddItemToArray(arr, o);
                size_t wl = strlen(w);
                if (tlen + wl + 2 >= tcap) {
                    tcap = (tcap + wl) * 2;
                    char *nt = realloc(t, tcap);
                    if (nt == NULL) {
                        TessDeleteText(w);
                        break;
                    }
                    t = nt;
                }
                memcpy(t + tlen, w, wl);
                tlen += wl;
                t[tlen++] = TessPageIteratorIsAtFinalElement(pit, RIL_TEXTLINE, RIL_WORD) ? '\n'
                                                                                          : ' ';
            }
            if (w)
                TessDeleteText(w);
        } while (TessPageIteratorNext(pit, RIL_WORD));
        TessResultIteratorDelete(it);
    }
    t[tlen] = '\0';
    *words = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    *text = t;
    return *words ? 0 : -1;
}

int pdf_ocr_page(void *poppler_page, char **words, char **text)
{
    PopplerPage *page = poppler_page;
    *words = *text = NULL;
    TessBaseAPI *api = ocr_get();
    if (api == NULL)
        return -1;
    double pw, ph;
    poppler_page_get_size(page, &pw, &ph);
    double s = OCR_DPI / 72.0;
    /* Checked as doubles first: a page of inf or 1e30 points (poppler gives
     * them for absurd MediaBoxes) is undefined as an int. */
    if (!(pw * s >= 1 && ph * s >= 1 && pw * s <= 15000 * 15000.0 && ph * s <= 15000 * 15000.0))
        return -1;
    int w = (int)(pw * s + 0.5), h = (int)(ph * s + 0.5);
    if ((long)w * h > 15000L * 15000L)
        return -1;
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, s, s);
    poppler_page_render(page, cr);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    /* RGB24 is 32 bits per pixel, BGRX in memory on little-endian: Tesseract
     * reads 4 bytes per pixel as RGBA; the grey it makes of it is the same. */
    TessBaseAPISetImage(api, cairo_image_surface_get_data(surf), w, h, 4,
                        cairo_image_surface_get_stride(surf));
    TessBaseAPISetSourceResolution(api, (int)OCR_DPI);
    int rc = ocr_collect(api, 1.0 / s, words, text);
    TessBaseAPIClear(api);
    cairo_surface_destroy(surf);
    return rc;
}

int pdf_ocr_image(const void *bytes, size_t len, int *width, int *height, char **words,
                  char **text)
{
    *words = *text = NULL;
    TessBaseAPI *api = ocr_get();
    if (api == NULL)
        return -1;
    PIX *pix = pixReadMem(bytes, len);
    if (pix == NULL)
        return -1;
    *width = (int)pixGetWidth(pix);
    *height = (int)pixGetHeight(pix);
    TessBaseAPISetImage2(api, pix);
    l_int32 xres = pixGetXRes(pix);
    TessBaseAPISetSourceResolution(api, xres > 0 ? xres : 300);
    int rc = ocr_collect(api, 1.0, words, text);
    TessBaseAPIClear(api);
    pixDestroy(&pix);
    return rc;
}

void pdf_ocr_end(void)
{
    if (ocr_api) {
        TessBaseAPIEnd(ocr_api);
        TessBaseAPIDelete(ocr_api);
    }
    ocr_api = NULL;
}
