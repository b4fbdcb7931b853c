/* A test double for tests/e2e/man_check.sh: the site loader's key lists as
 * bp_site_known_keys gives them, but with one key more under routes.* that
 * backplane-site(5) does not describe, and without audit's
 * checkpoint_every, which it does. Linked into a copy of the CLI's own
 * objects with -Wl,--wrap=bp_site_known_keys, so the generator's check
 * (core/cli/cmd_man.c) runs unchanged and no test hook ships in the
 * program. */
#include <stddef.h>
#include <string.h>

const char *const *__real_bp_site_known_keys(const char *section);
const char *const *__wrap_bp_site_known_keys(const char *section);

const char *const *__wrap_bp_site_known_keys(const char *section)
{
    /* One list at a time: the check reads each before it asks for the next. */
    static const char *keys[128];
    const char *const *real = __real_bp_site_known_keys(section);
    if (real == NULL || section == NULL)
        return real;
    int more = strcmp(section, "routes.*") == 0;
    int less = strcmp(section, "audit") == 0;
    if (!more && !less)
        return real;
    size_t n = 0;
    for (size_t i = 0; real[i] && n < 126; i++)
        if (!(less && strcmp(real[i], "checkpoint_every") == 0))
            keys[n++] = real[i];
    if (more)
        keys[n++] = "zz_undocumented";
    keys[n] = NULL;
    return keys;
}
