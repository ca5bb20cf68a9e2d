/* hesse/schema.h — the layouts of the result documents, declared once (docs/results.md).
 *
 * Every command writes one JSON document whose "schema" is "hesse.<command>/<version>". The
 * schema of a command is a table of keys: a JSON path, a label for humans, a unit, a kind and
 * whether the key must be there. The CLI checks each document against its table before it
 * writes it (hesse_schema_check), and the HTML report takes its labels and the keys of its
 * tables from the same rows, so a key that is added, renamed or dropped without its row is
 * caught by the tests instead of silently leaving the report behind.
 *
 * Paths name object keys with "." and every element of an array of objects with "[]":
 * "solver.tol", "runs[].samples", "cross_model_overlap[].pairs[].a". */
#ifndef HESSE_SCHEMA_H
#define HESSE_SCHEMA_H

#include <hesse/export.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    HESSE_KEY_NUMBER = 0, /* a JSON number, or null (hesse writes non-finite values as null) */
    HESSE_KEY_INT,        /* a number with an integral value (counts, sizes, seeds) */
    HESSE_KEY_STRING,
    HESSE_KEY_BOOL,
    HESSE_KEY_ARRAY, /* elements unchecked, unless rows "<path>[].<key>" declare objects */
    HESSE_KEY_OBJECT
} hesse_key_kind;

typedef struct {
    const char *path;  /* "solver.tol", "runs[].samples" */
    const char *label; /* what a reader calls it ("tolerance") */
    const char *unit;  /* "s", "ms", "bytes", ... ; "" for counts and plain numbers */
    hesse_key_kind kind;
    int required; /* present whenever its parent is (the document, object or element) */
} hesse_key;

/* A group of rows several documents share (the envelope, the model, the data, ...), or one
 * command's own rows. An optional part's top-level keys are all optional (its nested keys
 * keep their rule: required whenever their parent is present). */
typedef struct {
    const hesse_key *keys; /* ends with a row whose path is NULL */
    int optional;
} hesse_schema_part;

typedef struct {
    const char *command; /* "spectrum" */
    int version;         /* the number after the slash in "hesse.spectrum/1" */
    const hesse_schema_part *parts;
    int nparts;
} hesse_schema;

/* The schema of a command ("spectrum"), or NULL when there is none. */
HESSE_API const hesse_schema *hesse_schema_find(const char *command);
/* All schemas, for listing: *count of them. */
HESSE_API const hesse_schema *hesse_schema_all(int *count);
/* The row of `path` in a schema (NULL: the rows the commands share, envelope, model, data
 * and operator), or NULL when the path is not declared there. When `required` is not NULL it
 * receives whether the key is required (the part's rule applied). */
HESSE_API const hesse_key *hesse_schema_key(const hesse_schema *s, const char *path, int *required);
/* "number", "int", "string", "bool", "array", "object". */
HESSE_API const char *hesse_key_kind_name(hesse_key_kind kind);

/* Checks a document against the schema its "schema" key names: a known command and version,
 * every required key present with its declared kind, and no key the schema does not declare
 * (at any depth, array elements included). HESSE_OK, or HESSE_EINPUT with the first problem
 * (its JSON path, what was expected and what was found) as the last error and, when `why` is
 * not NULL, in why[0..cap); HESSE_EINVAL when doc is NULL. */
HESSE_API int hesse_schema_check(const cJSON *doc, char *why, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* HESSE_SCHEMA_H */
