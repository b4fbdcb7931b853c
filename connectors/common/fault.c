/* Protocol replies -> fault (see fault.h): HTTP status, SMTP reply codes,
 * IMAP tagged replies. Each table is read top to bottom; the first matching
 * row wins and the last rows are the defaults. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fault.h"

#define NC BP_NOT_CONNECTED
#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

const char *fault_name(bp_status st)
{
    switch (st) {
    case BP_OK: return "ok";
    case BP_RETRY: return "retry";
    case BP_NOT_CONNECTED: return "not connected";
    case BP_REJECT: return "reject";
    default: return "other";
    }
}

const char *fault_reason(fault f, const char *text, char *out, size_t n)
{
    if (n == 0)
        return out;
    if (text == NULL || *text == '\0')
        text = f.cause ? "" : fault_name(f.st);
    if (f.cause == NULL || strncmp(text, f.cause, strlen(f.cause)) == 0)
        snprintf(out, n, "%s", text);
    else
        snprintf(out, n, "%s%s%s", f.cause, *text ? ": " : "", text);
    return out;
}

/* ---- HTTP status ---------------------------------------------------------
 * For a complete response without a more specific answer in its body. The
 * endpoint is fixed by the site file, so a 404 or a 401 says the site (or the
 * service) is wrong, not the record: the route waits until it is fixed. */
static const struct {
    long lo, hi;
    bp_status st;
    const char *cause;
} fault_http_rows[] = {
    {200, 299, BP_OK, NULL},
    {401, 401, NC, FAULT_CREDENTIALS},
    {407, 407, NC, "proxy " FAULT_CREDENTIALS},
    {403, 403, NC, FAULT_PERMISSION},
    {404, 404, NC, "no such endpoint"},
    {408, 408, BP_RETRY, NULL},          /* request timeout */
    {425, 425, BP_RETRY, NULL},          /* too early */
    {429, 429, BP_RETRY, "rate limited"},
    {500, 599, BP_RETRY, NULL},          /* the service failed: try again later */
    {400, 499, BP_REJECT, NULL},         /* the request (this record) is wrong */
    {0, 0x7fffffff, BP_REJECT, NULL},    /* 1xx/3xx as a final answer: not understood */
};

fault fault_http_status(long status)
{
    for (size_t i = 0; i < N_ROWS(fault_http_rows); i++)
        if (status >= fault_http_rows[i].lo && status <= fault_http_rows[i].hi)
            return (fault){fault_http_rows[i].st, fault_http_rows[i].cause};
    return (fault){BP_REJECT, NULL};
}

/* ---- SMTP replies (RFC 5321 codes, RFC 3463 enhanced codes) --------------
 * A reply is about the session (authentication, TLS, the server going away)
 * or about this message. Session trouble is not connected: every record
 * would fail the same way. 5.7.1 is kept a reject on purpose: servers use it
 * for "relay access denied" and for content refusals (spam) alike; it names
 * this recipient or message, and other records may still go. */
static const struct {
    long lo, hi;             /* reply code range */
    const char *enhanced;    /* exact enhanced code, or NULL for any */
    bp_status st;
    const char *cause;
} fault_smtp_rows[] = {
    {530, 530, NULL, NC, "authentication required"},
    {534, 534, NULL, NC, "authentication mechanism too weak"},
    {535, 535, NULL, NC, FAULT_CREDENTIALS},
    {538, 538, NULL, NC, "encryption required for authentication"},
    {500, 599, "5.7.8", NC, FAULT_CREDENTIALS},
    {500, 599, "5.7.9", NC, "authentication mechanism too weak"},
    {500, 599, "5.7.11", NC, "encryption required"},
    {500, 599, "5.7.13", NC, "account disabled"},
    {500, 599, "5.7.14", NC, "trust relationship required"},
    {454, 454, NULL, NC, "authentication or TLS temporarily unavailable"},
    {421, 421, NULL, NC, "server closing the connection"},
    {200, 399, NULL, BP_OK, NULL},
    {400, 499, NULL, BP_RETRY, NULL},    /* mailbox busy, greylisted, out of space */
    {500, 599, NULL, BP_REJECT, NULL},   /* no such user, message refused */
};

fault fault_smtp(long code, const char *reply)
{
    if (code <= 0)
        return (fault){BP_RETRY, NULL};
    /* "535 5.7.8 text" or "535-5.7.8 text": the token after the code. */
    char enh[16] = "";
    if (reply && isdigit((unsigned char)reply[0]) && strlen(reply) > 4 &&
        (reply[3] == ' ' || reply[3] == '-')) {
        size_t n = strspn(reply + 4, "0123456789.");
        if (n > 0 && n < sizeof(enh) && (reply[4 + n] == ' ' || reply[4 + n] == '\0')) {
            memcpy(enh, reply + 4, n);
            enh[n] = '\0';
        }
    }
    for (size_t i = 0; i < N_ROWS(fault_smtp_rows); i++) {
        if (code < fault_smtp_rows[i].lo || code > fault_smtp_rows[i].hi)
            continue;
        if (fault_smtp_rows[i].enhanced && strcmp(fault_smtp_rows[i].enhanced, enh) != 0)
            continue;
        return (fault){fault_smtp_rows[i].st, fault_smtp_rows[i].cause};
    }
    return (fault){BP_REJECT, NULL};
}

/* ---- IMAP replies (RFC 3501 status responses, RFC 5530 response codes) ---
 * A NO is read by its response code; without one it refuses this command
 * (reject). BAD means we sent something the server did not understand. */
static const struct {
    const char *code;
    bp_status st;
    const char *cause;
} fault_imap_rows[] = {
    {"AUTHENTICATIONFAILED", NC, FAULT_CREDENTIALS},
    {"AUTHORIZATIONFAILED", NC, FAULT_PERMISSION},
    {"EXPIRED", NC, "credentials expired"},
    {"PRIVACYREQUIRED", NC, "TLS required by the server"},
    {"CONTACTADMIN", NC, "account locked: contact the mail administrator"},
    {"NOPERM", NC, FAULT_PERMISSION},
    {"NONEXISTENT", NC, "no such mailbox"},
    {"TRYCREATE", NC, "no such mailbox"},
    {"UNAVAILABLE", BP_RETRY, "server temporarily unavailable"},
    {"INUSE", BP_RETRY, "mailbox in use"},
    {"SERVERBUG", BP_RETRY, "server bug"},
    {"LIMIT", BP_RETRY, "server limit reached"},
    {"OVERQUOTA", BP_RETRY, "over quota"},
    {"EXPUNGEISSUED", BP_RETRY, NULL},
    {"CORRUPTION", BP_RETRY, "mailbox corrupted on the server"},
    {"ALREADYEXISTS", BP_OK, NULL},
    {"CANNOT", BP_REJECT, NULL},
    {"CLIENTBUG", BP_REJECT, NULL},
};

fault fault_imap(const char *line)
{
    if (line == NULL)
        return (fault){BP_RETRY, NULL};
    /* TAG SP STATUS [SP "[" CODE ...] */
    const char *p = line + strcspn(line, " ");
    if (*p != ' ' || p == line)
        return (fault){BP_RETRY, NULL};
    p++;
    size_t sl = strcspn(p, " \r\n");
    const char *code = p + sl;
    size_t cl = 0;
    if (code[0] == ' ' && code[1] == '[') {
        code += 2;
        cl = strcspn(code, " ]");
    }
    int known = -1;
    for (size_t i = 0; cl && i < N_ROWS(fault_imap_rows); i++)
        if (strlen(fault_imap_rows[i].code) == cl && strncasecmp(code, fault_imap_rows[i].code, cl) == 0)
            known = (int)i;
    if (sl == 2 && strncasecmp(p, "OK", 2) == 0)
        return (fault){BP_OK, NULL};
    if (sl == 3 && strncasecmp(p, "BYE", 3) == 0) {
        /* The connection is gone, whatever the code says. */
        const char *cause = known >= 0 && fault_imap_rows[known].st == NC
                                ? fault_imap_rows[known].cause
                                : "server closed the connection";
        return (fault){NC, cause};
    }
    if (sl == 2 && strncasecmp(p, "NO", 2) == 0)
        return known >= 0 ? (fault){fault_imap_rows[known].st, fault_imap_rows[known].cause}
                          : (fault){BP_REJECT, NULL};
    if (sl == 3 && strncasecmp(p, "BAD", 3) == 0)
        return (fault){BP_REJECT, NULL};
    return (fault){BP_RETRY, NULL};
}
