/* See grow_buf.h. */
#include <stdlib.h>
#include <string.h>

#include "grow_buf.h"

int grow_buf_append(char **data, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        char *d = realloc(*data, c);
        if (d == NULL)
            return -1;
        *data = d;
        *cap = c;
    }
    memcpy(*data + *len, p, n);
    *len += n;
    (*data)[*len] = '\0';
    return 0;
}
