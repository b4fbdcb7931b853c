/* ml_model: the file format shared by the learned plugins (extract, classify).
 *
 * A model file is a list of named sections — float arrays and strings — framed
 * by a magic, a section count and a CRC-32 over everything before it:
 *
 *   "BPMODEL1" | u32 nsections | { u16 namelen, name, u8 type, u32 count, payload }* | u32 crc
 *
 * All integers and floats little-endian. The parser reads outside input: every
 * length is checked against the bytes left, so a truncated or corrupt file is
 * refused with a message that names the byte offset, never read out of bounds.
 * It knows nothing of what the sections mean; each plugin checks that the
 * sections it needs are there and have the right sizes. */
#ifndef BP_ML_MODEL_H
#define BP_ML_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct ml_model ml_model;

/* An empty model to add sections to; NULL when out of memory. */
ml_model *ml_model_new(void);
void ml_model_free(ml_model *m);

/* Add a section (copies name and values). 0 ok, -1 out of memory or the
 * name is already used or longer than 255 bytes. */
int ml_model_add_f32(ml_model *m, const char *name, const float *v, uint32_t n);
int ml_model_add_str(ml_model *m, const char *name, const char *s);

/* Write to path (replaced atomically through path.tmp). 0 ok; -1 with a
 * message in err. */
int ml_model_save(const ml_model *m, const char *path, char *err, size_t errlen);

/* Parse len bytes. NULL with a message in err ("truncated at byte N", "not a
 * model file", "checksum mismatch") on any defect. The result owns copies. */
ml_model *ml_model_parse(const unsigned char *buf, size_t len, char *err, size_t errlen);

/* Read and parse a file; messages start with the path. */
ml_model *ml_model_load(const char *path, char *err, size_t errlen);

/* Checks the "kind" and "features" string sections: 0 ok; -1 with "not a
 * KIND model (kind 'x')" or "model was trained on feature set 'a', this build
 * has 'b': retrain it" in err. */
int ml_model_expect(const ml_model *m, const char *kind, const char *features, char *err,
                    size_t errlen);

/* Loads path and hands the parsed model to interpret(ctx, model, err, errlen),
 * which reads what it needs (the parsed model is freed afterwards). 0 ok; -1
 * with a message starting with the path. */
int ml_model_load_with(const char *path,
                       int (*interpret)(void *ctx, const ml_model *m, char *err, size_t errlen),
                       void *ctx, char *err, size_t errlen);

/* Borrowed views of a section; NULL when absent or of the other type. A
 * float section's values are all finite (the parser refuses NaN and inf). */
const float *ml_model_get0_f32(const ml_model *m, const char *name, uint32_t *n);
const char *ml_model_get0_str(const ml_model *m, const char *name);

/* CRC-32 (IEEE), exposed for tests. */
uint32_t ml_crc32(const unsigned char *p, size_t n);

#endif
