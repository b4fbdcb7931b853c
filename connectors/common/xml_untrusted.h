/* Parsing XML that comes from outside (a peer's response, a WSDL, a template
 * file) with libxml2, safely: no network (XML_PARSE_NONET), no external
 * entities or DTD loading (neither XML_PARSE_NOENT nor XML_PARSE_DTDLOAD), and
 * any document type declaration refused outright, which also stops "billion
 * laughs" documents before a single entity is declared. Shared by connectors
 * that read XML. */
#ifndef BP_COMMON_XML_UNTRUSTED_H
#define BP_COMMON_XML_UNTRUSTED_H

#include <stddef.h>
#include <libxml/tree.h>

/* Parses len bytes. On success returns the document (free with xmlFreeDoc).
 * On failure returns NULL and writes "LINE:COL: message" into err (size
 * errsz); *had_dtd is set to 1 when the reason is a document type declaration
 * (had_dtd may be NULL). Thread-safe. */
xmlDocPtr xml_parse_untrusted(const char *buf, size_t len, char *err, size_t errsz, int *had_dtd);

/* Reads and parses the file at path as above. A file that cannot be read
 * gives NULL with "cannot read: REASON" in err. */
xmlDocPtr xml_parse_untrusted_file(const char *path, char *err, size_t errsz, int *had_dtd);

#endif
