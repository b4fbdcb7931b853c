/* HTML -> readable text with libxml2's HTML parser (lenient, like a
 * browser): text nodes in document order, a line break after block
 * elements and <br>, nothing from <script>, <style> or <head>. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/HTMLparser.h>

#include "text_extract.h"

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
    int space;      /* a space is owed before the next word */
} ht_out;

static void ht_put(ht_out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *b = realloc(o->buf, cap);
        if (b == NULL) {
            o->oom = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void ht_newline(ht_out *o)
{
    /* At most one blank line in a row, none at the start. */
    if (o->len == 0 || (o->len >= 2 && o->buf[o->len - 1] == '\n' && o->buf[o->len - 2] == '\n'))
        return;
    while (o->len > 0 && o->buf[o->len - 1] == ' ')
        o->len--;
    ht_put(o, "\n", 1);
    o->space = 0;
}

/* Folds white space in a text node into single spaces. */
static void ht_text(ht_out *o, const char *s)
{
    while (*s) {
        if (isspace((unsigned char)*s)) {
            o->space = 1;
            s++;
            continue;
        }
        const char *w = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (o->space && o->len > 0 && o->buf[o->len - 1] != '\n')
            ht_put(o, " ", 1);
        o->space = 0;
        ht_put(o, w, (size_t)(s - w));
    }
}

static int ht_is(const xmlNode *n, const char *const *names)
{
    for (; *names; names++)
        if (strcasecmp((const char *)n->name, *names) == 0)
            return 1;
    return 0;
}

static const char *const ht_skip[] = {"script", "style", "head", "title", "noscript", "template", NULL};
static const char *const ht_block[] = {"p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5",
                                       "h6", "table", "ul", "ol", "pre", "blockquote", "hr",
                                       "address", "section", "article", "header", "footer", NULL};

static void ht_walk(ht_out *o, const xmlNode *n, int depth)
{
    /* Depth bound: hostile nesting must not exhaust the stack (libxml2
     * itself stops at 256 levels without HTML_PARSE_HUGE). */
    if (depth > 512)
        return;
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                ht_text(o, (const char *)n->content);
        } else if (n->type == XML_ELEMENT_NODE) {
            if (ht_is(n, ht_skip))
                continue;
            if (strcasecmp((const char *)n->name, "br") == 0) {
                ht_put(o, "\n", 1);
                o->space = 0;
                continue;
            }
            int block = ht_is(n, ht_block);
            if (block)
                ht_newline(o);
            if (strcasecmp((const char *)n->name, "td") == 0 ||
                strcasecmp((const char *)n->name, "th") == 0)
                o->space = 1;
            ht_walk(o, n->children, depth + 1);
            if (block)
                ht_newline(o);
        }
    }
}

char *html_to_text(const char *html, size_t len)
{
    ht_out o = {0};
    ht_put(&o, "", 0);
    if (len > 0 && len <= (size_t)0x7fffffff) {
        htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                                        HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                                            HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
        if (doc) {
            ht_walk(&o, xmlDocGetRootElement(doc), 0);
            xmlFreeDoc(doc);
        }
    }
    while (!o.oom && o.len > 0 && (o.buf[o.len - 1] == '\n' || o.buf[o.len - 1] == ' '))
        o.buf[--o.len] = '\0';
    if (o.oom) {
        free(o.buf);
        return NULL;
    }
    return o.buf;
}
