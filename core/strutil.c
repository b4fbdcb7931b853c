#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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
