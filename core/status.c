/* Names for bp_status values (one table, append-only like the enum). */
#include <backplane/status.h>

const char *bp_status_str(bp_status st)
{
    switch (st) {
    case BP_OK: return "ok";
    case BP_ERR_NOMEM: return "out of memory";
    case BP_ERR_INVALID: return "invalid";
    case BP_ERR_NOT_FOUND: return "not found";
    case BP_ERR_IO: return "I/O error";
    case BP_ERR_PARSE: return "parse error";
    case BP_ERR_ABI: return "incompatible ABI";
    case BP_ERR_UNSUPPORTED: return "unsupported";
    case BP_ERR_INTERNAL: return "internal error";
    case BP_QUEUED: return "queued";
    case BP_RETRY: return "retry";
    case BP_NOT_CONNECTED: return "not connected";
    case BP_REJECT: return "reject";
    case BP_MODIFIED: return "modified";
    case BP_DROP: return "drop";
    case BP_REVIEW: return "review";
    case BP_AGAIN: return "again";
    case BP_EOF: return "end of input";
    case BP_STOPPED: return "stopped";
    case BP_ERR_FULL: return "batch full";
    case BP_ERR_DEPTH: return "nested too deep";
    }
    return "unknown status";
}
