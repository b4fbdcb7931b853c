/* ml_args: see ml_args.h. */
#include "ml_args.h"

#include <stdio.h>
#include <string.h>

int ml_args_parse(int argc, char **argv, const ml_arg *spec, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s\n", usage);
            return ML_ARGS_HELP;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s'\nusage: %s\n", argv[0], a, usage);
            return 2;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const ml_arg *s = spec;
        for (; s->name; s++)
            if (strlen(s->name) == nl && strncmp(s->name, a, nl) == 0)
                break;
        if (s->name == NULL) {
            fprintf(stderr, "%s: unknown option --%.*s\nusage: %s\n", argv[0], (int)nl, a, usage);
            return 2;
        }
        if (s->is_flag) {
            *s->value = "1";
        } else if (eq) {
            *s->value = eq + 1;
        } else if (i + 1 < argc) {
            *s->value = argv[++i];
        } else {
            fprintf(stderr, "%s: --%s needs a value\nusage: %s\n", argv[0], s->name, usage);
            return 2;
        }
    }
    return 0;
}
