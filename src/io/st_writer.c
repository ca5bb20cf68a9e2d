/* safetensors writer: tensors and metadata collected in order, then one atomic write.
 *
 * Layout as the reference writer makes it: compact JSON header with "__metadata__" first
 * and the tensors in insertion order, padded with spaces so that the data block starts at
 * a multiple of 8 bytes; the data block holds the tensors back to back in the same order. */
#include "io-impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    hesse_dtype dtype;
    int ndim;
    int64_t shape[HESSE_ST_MAX_DIMS];
    const void *data; /* borrowed until hesse_st_write */
    uint64_t bytes;
} st_entry;

struct hesse_st_writer {
    st_entry *tensors;
    int count, cap;
    char **keys, **values; /* metadata, owned */
    int meta_count, meta_cap;
};

int hesse_st_writer_create(hesse_st_writer **out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_st_writer_create: NULL argument");
    *out = calloc(1, sizeof **out);
    return *out ? HESSE_OK : hesse_error(HESSE_ENOMEM, "out of memory for a safetensors writer");
}

void hesse_st_writer_free(hesse_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->count; i++) free(w->tensors[i].name);
    for (int i = 0; i < w->meta_count; i++) {
        free(w->keys[i]);
        free(w->values[i]);
    }
    free(w->tensors);
    free(w->keys);
    free(w->values);
    free(w);
}

/* Grows an array of `size`-byte items to hold one more. */
static int grow(void **items, int *cap, int count, size_t size) {
    if (count < *cap) return 1;
    int ncap = *cap ? *cap * 2 : 16;
    void *p = ncap > *cap ? realloc(*items, (size_t)ncap * size) : NULL;
    if (!p) return 0;
    *items = p;
    *cap = ncap;
    return 1;
}

int hesse_st_add(hesse_st_writer *w, const char *name, hesse_dtype dtype, int ndim,
                 const int64_t *shape, const void *data) {
    if (!w || !name || (ndim > 0 && !shape))
        return hesse_error(HESSE_EINVAL, "hesse_st_add: NULL argument");
    if (!*name || strcmp(name, "__metadata__") == 0)
        return hesse_error(HESSE_EINVAL, "safetensors: '%s' is not a valid tensor name", name);
    size_t size = hesse_dtype_size(dtype);
    if (size == 0)
        return hesse_error(HESSE_EINVAL, "safetensors: tensor '%s': unknown dtype", name);
    if (ndim < 0 || ndim > HESSE_ST_MAX_DIMS)
        return hesse_error(HESSE_EINVAL, "safetensors: tensor '%s': %d dimensions (0 to %d)", name,
                           ndim, HESSE_ST_MAX_DIMS);
    uint64_t bytes = size;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(bytes, (uint64_t)shape[i], &bytes))
            return hesse_error(HESSE_EINVAL,
                               "safetensors: tensor '%s': bad dimension %d (%" PRId64 ")", name, i,
                               shape[i]);
    if (bytes && !data) return hesse_error(HESSE_EINVAL, "safetensors: tensor '%s': no data", name);
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return hesse_error(HESSE_EINVAL, "safetensors: tensor '%s' added twice", name);
    if (!grow((void **)&w->tensors, &w->cap, w->count, sizeof *w->tensors))
        return hesse_error(HESSE_ENOMEM, "safetensors: out of memory adding '%s'", name);
    st_entry *e = &w->tensors[w->count];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name)))
        return hesse_error(HESSE_ENOMEM, "safetensors: out of memory adding '%s'", name);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    e->bytes = bytes;
    w->count++;
    return HESSE_OK;
}

int hesse_st_add_meta(hesse_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return hesse_error(HESSE_EINVAL, "hesse_st_add_meta: NULL argument");
    char *v = strdup(value);
    if (!v) return hesse_error(HESSE_ENOMEM, "safetensors: out of memory for metadata '%s'", key);
    for (int i = 0; i < w->meta_count; i++)
        if (strcmp(w->keys[i], key) == 0) { /* a second value for a key replaces the first */
            free(w->values[i]);
            w->values[i] = v;
            return HESSE_OK;
        }
    int cap = w->meta_cap;
    char *k = strdup(key);
    if (!k || !grow((void **)&w->keys, &cap, w->meta_count, sizeof *w->keys) ||
        !grow((void **)&w->values, &w->meta_cap, w->meta_count, sizeof *w->values)) {
        free(k);
        free(v);
        return hesse_error(HESSE_ENOMEM, "safetensors: out of memory for metadata '%s'", key);
    }
    w->meta_cap = cap;
    w->keys[w->meta_count] = k;
    w->values[w->meta_count] = v;
    w->meta_count++;
    return HESSE_OK;
}

/* The header JSON, padded with spaces to a multiple of 8 bytes. */
static int build_header(const hesse_st_writer *w, hesse_iobuf *h) {
    hesse_iobuf_puts(h, "{");
    if (w->meta_count) {
        hesse_iobuf_puts(h, "\"__metadata__\":{");
        for (int i = 0; i < w->meta_count; i++) {
            if (i) hesse_iobuf_puts(h, ",");
            hesse_iobuf_json_string(h, w->keys[i]);
            hesse_iobuf_puts(h, ":");
            hesse_iobuf_json_string(h, w->values[i]);
        }
        hesse_iobuf_puts(h, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < w->count; i++) {
        const st_entry *e = &w->tensors[i];
        if (i || w->meta_count) hesse_iobuf_puts(h, ",");
        hesse_iobuf_json_string(h, e->name);
        hesse_iobuf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", hesse_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++)
            hesse_iobuf_printf(h, "%s%" PRId64, d ? "," : "", e->shape[d]);
        if (__builtin_add_overflow(offset, e->bytes, &offset))
            return hesse_error(HESSE_EINVAL, "safetensors: tensors total more than 2^64 bytes");
        hesse_iobuf_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset - e->bytes,
                           offset);
    }
    hesse_iobuf_puts(h, "}");
    while (h->len % 8) hesse_iobuf_puts(h, " ");
    return hesse_iobuf_status(h);
}

int hesse_st_write(hesse_st_writer *w, const char *path) {
    if (!w || !path) return hesse_error(HESSE_EINVAL, "hesse_st_write: NULL argument");
    hesse_iobuf h = {0};
    hesse_atomic a = {0};
    int rc;
    HESSE_CHECK(build_header(w, &h));
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    HESSE_CHECK(hesse_atomic_open(&a, path));
    HESSE_CHECK(hesse_atomic_write(&a, len8, 8));
    HESSE_CHECK(hesse_atomic_write(&a, h.data, h.len));
    for (int i = 0; i < w->count; i++)
        HESSE_CHECK(hesse_atomic_write(&a, w->tensors[i].data, (size_t)w->tensors[i].bytes));
    HESSE_CHECK(hesse_atomic_commit(&a));
cleanup:
    hesse_atomic_abort(&a);
    hesse_iobuf_free(&h);
    return rc;
}
