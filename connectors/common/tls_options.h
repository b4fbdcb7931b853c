/* The one TLS vocabulary of every connector (ABI 1.3 option schema):
 *
 *   tls: { mode: none|starttls|tls, verify: true, ca_file: PATH, cert: PATH, key: PATH }
 *
 * mode: none (plain), starttls (upgrade a plain connection; required, never
 * silently skipped), tls (TLS from the first byte: imaps://, smtps://,
 * https://). Absent, it follows the URL's scheme. verify: check the peer's
 * certificate and host name (off is logged as a warning). ca_file: PEM CA
 * bundle to trust instead of the system's. cert/key: a client certificate.
 * The fields bind into a member `tls` (struct conn_tls) of the connector's
 * options struct. Header-only: plugins link nothing of the core. */
#ifndef BP_COMMON_TLS_OPTIONS_H
#define BP_COMMON_TLS_OPTIONS_H

#include <string.h>
#include <backplane/plugin.h>

enum conn_tls_mode {
    CONN_TLS_FROM_URL = -1,   /* mode not given: the URL's scheme decides */
    CONN_TLS_NONE = 0,
    CONN_TLS_STARTTLS = 1,
    CONN_TLS_TLS = 2
};

struct conn_tls {
    int mode;                 /* enum conn_tls_mode (an index into conn_tls_modes) */
    int verify;
    const char *ca_file;
    const char *cert;
    const char *key;
};

static const char *const conn_tls_modes[] = {"none", "starttls", "tls", NULL};

/* The fields of `tls: { ... }` for options struct T (with a member `tls`). */
#define CONN_TLS_FIELDS(T) \
    {.name = "mode", .type = BP_OPT_ENUM, .choices = conn_tls_modes, \
     .description = "none, starttls (required) or tls (from the first byte); default: the URL's scheme", \
     BP_OPT_FIELD(T, tls.mode)}, \
    {.name = "verify", .type = BP_OPT_BOOL, .default_value = "true", \
     .description = "verify the server's certificate and host name", BP_OPT_FIELD(T, tls.verify)}, \
    {.name = "ca_file", .type = BP_OPT_PATH, \
     .description = "PEM file of the CA(s) to trust (private CAs); default: the system store", \
     BP_OPT_FIELD(T, tls.ca_file)}, \
    {.name = "cert", .type = BP_OPT_PATH, .description = "client certificate (PEM)", \
     BP_OPT_FIELD(T, tls.cert)}, \
    {.name = "key", .type = BP_OPT_PATH, .description = "private key of the client certificate (PEM)", \
     BP_OPT_FIELD(T, tls.key)}, \
    {0}

/* The `tls` option and the tombstones of the spellings it replaced. */
#define CONN_TLS_OPTION(tls_fields) \
    {.name = "tls", .type = BP_OPT_MAP, .fields = (tls_fields), \
     .description = "TLS: { mode: none|starttls|tls, verify, ca_file, cert, key }"}, \
    {.name = "verify_tls", .renamed = "'tls: { verify: ... }'"}, \
    {.name = "tls_verify", .renamed = "'tls: { verify: ... }'"}, \
    {.name = "ca_file", .renamed = "'tls: { ca_file: ... }'"}

/* The mode an URL with this scheme implies: tls for "imaps", "smtps",
 * "https"; else none (plain, or starttls when the mode says so). */
static inline int conn_tls_url_mode(const char *url)
{
    const char *colon = url ? strstr(url, "://") : NULL;
    return colon && colon > url && colon[-1] == 's' ? CONN_TLS_TLS : CONN_TLS_NONE;
}

/* Checks mode against url; NULL when they agree, else what is wrong (static). */
static inline const char *conn_tls_mismatch(int mode, const char *url)
{
    int implied = conn_tls_url_mode(url);
    if (mode == CONN_TLS_TLS && implied != CONN_TLS_TLS)
        return "tls.mode tls needs a URL whose scheme says TLS (imaps://, smtps://, https://)";
    if (mode != CONN_TLS_FROM_URL && mode != CONN_TLS_TLS && implied == CONN_TLS_TLS)
        return "the URL's scheme says TLS from the first byte: tls.mode must be tls (or left out)";
    return NULL;
}

#endif
