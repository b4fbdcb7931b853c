/* The host's model_find (ABI 1.3): see model_find.c for the search order. */
#ifndef BP_CORE_MODEL_FIND_H
#define BP_CORE_MODEL_FIND_H

#include <backplane/plugin.h>

/* On BP_OK *path is malloc'ed. BP_ERR_NOT_FOUND: *errmsg (malloc'ed, when
 * errmsg is not NULL) lists the directories searched. inst may be NULL. */
bp_status bp_model_find(bp_instance *inst, const char *name, char **path, char **errmsg);

#endif
