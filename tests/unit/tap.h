/* Minimal TAP producer for unit tests. Each CHECK is one TAP test point, so the
 * suite's "N passed, N failed" counts assertions someone would notice.
 * Macros record results; none of them returns or jumps. */
#ifndef BP_TEST_TAP_H
#define BP_TEST_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int tap_check(int ok, const char *expr, const char *file, int line)
{
    tap_count++;
    if (ok) {
        printf("ok %d - %s\n", tap_count, expr);
    } else {
        tap_failed++;
        printf("not ok %d - %s\n#   at %s:%d\n", tap_count, expr, file, line);
    }
    fflush(stdout);
    return ok;
}

static inline int tap_check_str(const char *got, const char *want, const char *expr,
                                const char *file, int line)
{
    int ok = (got == NULL && want == NULL) ||
             (got != NULL && want != NULL && strcmp(got, want) == 0);
    if (!tap_check(ok, expr, file, line))
        printf("#   got:  %s%s%s\n#   want: %s%s%s\n", got ? "\"" : "", got ? got : "NULL",
               got ? "\"" : "", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
    return ok;
}

static inline int tap_check_int(long long got, long long want, const char *expr,
                                const char *file, int line)
{
    int ok = got == want;
    if (!tap_check(ok, expr, file, line))
        printf("#   got:  %lld\n#   want: %lld\n", got, want);
    return ok;
}

#define CHECK(cond) tap_check(!!(cond), #cond, __FILE__, __LINE__)
#define CHECK_STR(got, want) tap_check_str((got), (want), #got " == " #want, __FILE__, __LINE__)
#define CHECK_INT(got, want) \
    tap_check_int((long long)(got), (long long)(want), #got " == " #want, __FILE__, __LINE__)

/* Call last in main: prints the plan and returns the exit code. */
static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
