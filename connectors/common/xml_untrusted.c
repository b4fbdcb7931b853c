/* Safe parsing of outside XML (see xml_untrusted.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "xml_untrusted.h"

/* Called at "<!DOCTYPE name ...": before any entity declaration is read. */
static void xu_internal_subset(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                               const xmlChar *sys_id)
{
    (void)name;
    (void)ext_id;
    (void)sys_id;
    xmlParserCtxtPtr ctxt = ctx;
    ctxt->_private = (void *)1;
    xmlStopParser(ctxt);
}

/* Parser errors go to the context's lastError, not to stderr. */
static void xu_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

xmlDocPtr xml_parse_untrusted(const char *buf, size_t len, char *err, size_t errsz, int *had_dtd)
{
    if (had_dtd)
        *had_dtd = 0;
    if (len > (size_t)0x7fffffff) {
        snprintf(err, errsz, "1:1: document too large");
        return NULL;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (ctxt == NULL) {
        snprintf(err, errsz, "1:1: out of memory");
        return NULL;
    }
    ctxt->sax->internalSubset = xu_internal_subset;
    ctxt->sax->externalSubset = NULL;
    ctxt->sax->error = xu_silent;
    ctxt->sax->warning = xu_silent;
    ctxt->vctxt.error = xu_silent;
    ctxt->vctxt.warning = xu_silent;
    ctxt->_private = NULL;
    /* NONET: no network; no NOENT (entities are not substituted), no DTDLOAD,
     * no DTDATTR, no XINCLUDE; errors and warnings are not printed. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL, opts);
    int dtd = ctxt->_private != NULL;
    if (dtd || doc == NULL || !ctxt->wellFormed) {
        if (dtd) {
            snprintf(err, errsz, "%d:%d: a document type declaration (DTD) is not allowed",
                     ctxt->input ? ctxt->input->line : 1, ctxt->input ? ctxt->input->col : 1);
        } else {
            const xmlError *e = xmlCtxtGetLastError(ctxt);
            char msg[200];
            snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "not well-formed");
            size_t m = strlen(msg);
            while (m > 0 && (msg[m - 1] == '\n' || msg[m - 1] == ' '))
                msg[--m] = '\0';
            snprintf(err, errsz, "%d:%d: %s", e ? e->line : 1, e ? e->int2 : 1, msg);
        }
        if (had_dtd)
            *had_dtd = dtd;
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

xmlDocPtr xml_parse_untrusted_file(const char *path, char *err, size_t errsz, int *had_dtd)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errsz, "cannot read: %s", strerror(errno));
        return NULL;
    }
    char *text = NULL, chunk[8192];
    size_t len = 0, got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        char *t = realloc(text, len + got + 1);
        if (t == NULL) {
            free(text);
            fclose(f);
            snprintf(err, errsz, "cannot read: out of memory");
            return NULL;
        }
        text = t;
        memcpy(text + len, chunk, got);
        len += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        snprintf(err, errsz, "cannot read: I/O error");
        return NULL;
    }
    xmlDocPtr doc = xml_parse_untrusted(text ? text : "", len, err, errsz, had_dtd);
    free(text);
    return doc;
}
