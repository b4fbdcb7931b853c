/* The site file as a tree of YAML nodes that remember where they came from,
 * so every later error can say file:line:col. Built on libyaml's event parser.
 * ${env:NAME} and ${file:PATH} are substituted in scalars at load time. */
#ifndef BP_CORE_YAML_DOC_H
#define BP_CORE_YAML_DOC_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include <backplane/status.h>
#include "diag.h"

typedef enum { BP_YSCALAR, BP_YMAP, BP_YSEQ } bp_ykind;

typedef struct bp_ynode bp_ynode;
struct bp_ynode {
    bp_ykind kind;
    int line, col;          /* 1-based position of the node's first character */
    char *value;            /* SCALAR: value after substitution (NUL-terminated) */
    size_t len;             /* SCALAR: byte length (values may hold NUL from ${file:}) */
    int plain;              /* SCALAR: unquoted (so YAML typing applies) */
    int substituted;        /* SCALAR: a ${...} was replaced */
    char *raw;              /* SCALAR, when substituted: the text as written (for messages) */
    bp_ynode **keys;        /* MAP: key scalars */
    bp_ynode **items;       /* MAP: values; SEQ: items */
    size_t n;
};

typedef struct bp_ydoc {
    char *file;             /* name used in messages */
    bp_ynode *root;         /* NULL for an empty document */
} bp_ydoc;

/* Loads and parses path. On success *out is a new document (free with
 * bp_ydoc_free). Every error goes to d with its position; the return value is
 * BP_ERR_IO (unreadable), BP_ERR_PARSE (YAML syntax, aliases, limits) or
 * BP_ERR_INVALID (a substitution failed; the tree is still returned so that
 * later checks can report more errors). */
bp_status bp_ydoc_load_file(const char *path, bp_ydoc **out, bp_diags *d);

/* Same for text in memory; name is used in messages, base_dir resolves
 * relative ${file:} paths (NULL: the current directory). */
bp_status bp_ydoc_load_string(const char *name, const char *base_dir, const char *text,
                              size_t len, bp_ydoc **out, bp_diags *d);

void bp_ydoc_free(bp_ydoc *doc);

/* MAP lookup: the value node for key (borrowed) or NULL. */
const bp_ynode *bp_ymap_get(const bp_ynode *map, const char *key);

/* YAML 1.2 core-schema typing of a scalar into cJSON (plain null/true/false/
 * numbers get their types, quoted scalars are strings); maps and sequences
 * recursively. Returns a new tree or NULL when out of memory. */
cJSON *bp_ynode_to_json(const bp_ynode *node);

/* Human name of a node kind: "a scalar", "a map", "a list". */
const char *bp_ykind_name(bp_ykind kind);

#endif
