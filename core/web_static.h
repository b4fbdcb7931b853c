/* The review workbench's static files (issue 15), served by the control API
 * at `/`: web/index.html, app.js, app.css. Only those names are served (no
 * path from a URL reaches the file system), read from $BP_WEB_DIR, else the
 * source tree's web/ when this library runs from its build tree, else the
 * installed <datadir>/backplane/web. */
#ifndef BP_WEB_STATIC_H
#define BP_WEB_STATIC_H

#include <stddef.h>

/* The file for url ("/" is index.html): 200 with *body (malloc'ed), *len and
 * *type (static); 404 when url names no workbench file or it cannot be read.
 * Any thread. */
unsigned bp_web_static(const char *url, char **body, size_t *len, const char **type);

#endif
