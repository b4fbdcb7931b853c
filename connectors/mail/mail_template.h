/* Text templates with envelope fields: "Re: {data.subject}", "{{" for "{".
 * Used by the SMTP sink for recipients, subject and body. Internal header. */
#ifndef BP_MAIL_TEMPLATE_H
#define BP_MAIL_TEMPLATE_H

#include <backplane/plugin.h>

typedef struct mail_template mail_template;

/* Compiles text; every {path} is checked with api->path_check. NULL on
 * error with *errmsg (host-allocated) naming the option and column. */
mail_template *mail_template_new(const struct bp_host_api *api, const char *option,
                                 const char *text, char **errmsg);

/* Renders for env: strings as they are, numbers and booleans printed, objects
 * and arrays as compact JSON, missing paths as "". Returns a malloc'ed string
 * (free()), NULL when out of memory. */
char *mail_template_render(const mail_template *t, const struct bp_host_api *api,
                           const bp_envelope *env);

void mail_template_free(mail_template *t);

#endif
