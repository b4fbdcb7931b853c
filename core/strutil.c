#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strutil.h"

char *bp_vstrfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

char *bp_strfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = bp_vstrfmt(fmt, ap);
    va_end(ap);
    return s;
}

bp_status bp_set_err(char **errmsg, bp_status st, const char *fmt, ...)
{
    if (errmsg == NULL)
        return st;
    va_list ap;
    va_start(ap, fmt);
    *errmsg = bp_vstrfmt(fmt, ap);
    va_end(ap);
    return st;
}

FILE *bp_fopen_private(const char *path, const char *mode)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode[0] == 'a' ? O_APPEND : O_TRUNC);
    int fd = open(path, flags, 0600);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, mode[0] == 'a' ? "a" : "w");
    if (f == NULL)
        close(fd);
    return f;
}

char *bp_escape_controls(const char *s, const char *keep)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *out = malloc(6 * n + 1), *o = out;   /* at most 6 bytes per input byte */
    if (out == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            o += sprintf(o, "\\u%04x", (unsigned)p[1]);
            p++;
        } else if ((c < 0x20 || c == 0x7f) && !(keep && strchr(keep, (int)c))) {
            if (c == '\n')
                o += sprintf(o, "\\n");
            else if (c == '\r')
                o += sprintf(o, "\\r");
            else if (c == '\t')
                o += sprintf(o, "\\t");
            else
                o += sprintf(o, "\\x%02x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}
