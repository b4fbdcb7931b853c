/* A growable NUL-terminated byte buffer, for response bodies read by libcurl
 * write callbacks (SOAP's http_client, the mail connectors' curl_transfer). */
#ifndef BP_CONNECTORS_GROW_BUF_H
#define BP_CONNECTORS_GROW_BUF_H

#include <stddef.h>

/* Appends n bytes at p to *data (length *len, capacity *cap; *data may be
 * NULL), doubling the capacity from 4 KiB as needed and keeping a NUL after
 * the last byte. Returns 0, or -1 when out of memory (nothing changed). */
int grow_buf_append(char **data, size_t *len, size_t *cap, const void *p, size_t n);

#endif
