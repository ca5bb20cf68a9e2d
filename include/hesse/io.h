/* hesse/io.h: files. safetensors (read any, write F64), model files, safetensors datasets,
 * atomic writes, and the JSON result envelope (cJSON documents).
 *
 * Nothing here writes a half file: every writer goes to a temporary name in the target's
 * directory and renames it into place. */
#ifndef HESSE_IO_H
#define HESSE_IO_H

#include <cjson/cJSON.h>
#include <hesse/core.h>
#include <hesse/data.h>
#include <hesse/nn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Atomic files ---------------------------------------------------------------------- */

/* Writes len bytes to path through a temporary file + fsync + rename. HESSE_EIO with the
 * path and the system's reason on failure; the old file (if any) is then untouched. */
int hesse_write_file_atomic(const char *path, const void *data, size_t len);

/* Reads a whole file into a malloc'd buffer (NUL-terminated for convenience; *len excludes
 * the NUL). HESSE_EIO / HESSE_EINPUT naming the path on failure. Free with free(). */
int hesse_read_file(const char *path, unsigned char **data, size_t *len);

/* Checks before long work that `path` can be written: its directory exists and is writable.
 * HESSE_EIO naming the path and the reason otherwise. */
int hesse_check_writable(const char *path);

/* ---- safetensors ------------------------------------------------------------------------
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F64", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value"}}, then the data block (offsets relative to its start). */

typedef enum {
    HESSE_DTYPE_F64,
    HESSE_DTYPE_F32,
    HESSE_DTYPE_F16,
    HESSE_DTYPE_BF16,
    HESSE_DTYPE_I64,
    HESSE_DTYPE_I32,
    HESSE_DTYPE_I16,
    HESSE_DTYPE_I8,
    HESSE_DTYPE_U8,
    HESSE_DTYPE_BOOL
} hesse_dtype;

#define HESSE_ST_MAX_DIMS 8

typedef struct {
    const char *name;
    hesse_dtype dtype;
    int ndim;
    int64_t shape[HESSE_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* byte offsets in the data block */
} hesse_st_tensor;

typedef struct hesse_st_file hesse_st_file;

/* Reads and validates a safetensors file: header length within the file, valid JSON, known
 * dtypes, shapes whose element count does not overflow and matches the byte range, ranges
 * inside the data block and not overlapping. Errors name the file and the tensor. */
int hesse_st_open(const char *path, hesse_st_file **out);
/* The same over a buffer (copied); `label` names it in error messages. */
int hesse_st_open_memory(const void *data, size_t len, const char *label, hesse_st_file **out);
void hesse_st_close(hesse_st_file *f);
const char *hesse_st_path(const hesse_st_file *f);
int hesse_st_count(const hesse_st_file *f);
const hesse_st_tensor *hesse_st_at(const hesse_st_file *f, int i);
const hesse_st_tensor *hesse_st_find(const hesse_st_file *f, const char *name);
/* Converts a tensor's values to double (floats exactly, F16/BF16 widened, integers as
 * values). dst holds t->numel doubles. */
int hesse_st_read_f64(const hesse_st_file *f, const hesse_st_tensor *t, double *dst);
/* Raw bytes of a tensor (t->end - t->begin of them), little-endian as stored. */
const void *hesse_st_data(const hesse_st_file *f, const hesse_st_tensor *t);
/* A metadata value, or NULL when the file has no such key. */
const char *hesse_st_meta(const hesse_st_file *f, const char *key);
int hesse_st_meta_count(const hesse_st_file *f);
const char *hesse_st_meta_key(const hesse_st_file *f, int i);
const char *hesse_dtype_name(hesse_dtype dtype);

/* A writer collects tensors (the data pointers must stay valid until hesse_st_write) and
 * metadata (copied), then writes them atomically in the order added. */
typedef struct hesse_st_writer hesse_st_writer;
int hesse_st_writer_create(hesse_st_writer **out);
void hesse_st_writer_free(hesse_st_writer *w);
int hesse_st_add(hesse_st_writer *w, const char *name, hesse_dtype dtype, int ndim,
                 const int64_t *shape, const void *data);
int hesse_st_add_meta(hesse_st_writer *w, const char *key, const char *value);
int hesse_st_write(hesse_st_writer *w, const char *path);

/* ---- Model files ------------------------------------------------------------------------
 * hesse writes F64 tensors named "{i}.weight"/"{i}.bias" and metadata keys
 *   hesse.format = "1", hesse.arch, hesse.input_shape = "c,h,w", hesse.loss,
 *   hesse.preprocess (JSON), hesse.seed, hesse.history (JSON), hesse.version.
 * A file without hesse.arch (a PyTorch state_dict) needs the architecture given. */

typedef struct {
    const char *preprocess_json; /* may be NULL */
    const char *history_json;    /* may be NULL */
    const char *data_json;       /* dataset and selection used for training; may be NULL */
    uint64_t seed;
} hesse_model_meta;

int hesse_model_save(const hesse_model *m, const hesse_model_meta *meta, const char *path);

/* How to read a model file. Zero/NULL fields mean "take it from the file". */
typedef struct {
    const char *arch; /* overrides or supplies the architecture */
    int c, h, w;      /* input shape when the file has none; checked when it has one */
    int loss;         /* a hesse_loss_kind, or -1: the file's, else cross-entropy */
} hesse_load_options;
hesse_load_options hesse_load_defaults(void);

/* Loads a model file. Every tensor of the architecture must be present with its exact shape
 * (F64, F32, F16 or BF16; converted to double); an extra tensor is an error. Errors name the
 * file, the tensor, and the expected vs found shape or dtype. Non-finite weights are
 * HESSE_EINPUT. preprocess_json (may be NULL) receives a malloc'd copy of hesse.preprocess,
 * or NULL when the file has none. */
int hesse_model_load(const char *path, const hesse_load_options *opt, hesse_model **out,
                     char **preprocess_json);

/* A dataset stored as safetensors: "x" (uint8 or float, shape [N, C, H, W], [N, H, W] or
 * [N, D]) and "y" (integer labels, shape [N]); metadata "num_classes" optional (else
 * max(y) + 1). Errors name the file and tensor. */
int hesse_dataset_read_safetensors(const char *path, hesse_dataset **out);

/* ---- JSON results -----------------------------------------------------------------------
 * Every command writes one document: {"schema": "hesse.<command>/1", "hesse_version",
 * "command_line", "created", "blas": {...}, ...its own keys...}. */

/* A new result document with the common envelope filled in. */
cJSON *hesse_result_new(const char *command, int argc, char **argv);
/* Adds an array of n doubles (non-finite values are written as null). */
cJSON *hesse_json_add_doubles(cJSON *obj, const char *key, const double *v, int64_t n);
/* Writes a document atomically, pretty-printed, with a trailing newline. */
int hesse_json_write(const cJSON *doc, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_IO_H */
