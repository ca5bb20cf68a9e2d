/* safetensors reader (data/safetensors.c): header length, JSON header, dtypes, shapes, offsets
 * and metadata of an arbitrary byte string. A file that opens must keep every promise of
 * hesse_st_open: each tensor's bytes inside the data block, its element count matching its
 * byte range, lookups by name finding it, values convertible. */
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hesse_st_file *f = NULL;
    hesse_clear_error();
    int rc = hesse_st_open_memory(data, size, "fuzz.safetensors", &f);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        FUZZ_ASSERT(f == NULL);
        return 0;
    }
    FUZZ_ASSERT(size >= 8);
    uint64_t header = fuzz_le64(data);
    FUZZ_ASSERT(header <= size - 8);
    uint64_t data_len = size - 8 - header;
    for (int i = 0; i < hesse_st_count(f); i++) {
        const hesse_st_tensor *t = hesse_st_at(f, i);
        FUZZ_ASSERT(t && t->name);
        FUZZ_ASSERT(hesse_st_find(f, t->name) == t);
        FUZZ_ASSERT(t->begin <= t->end && t->end <= data_len);
        FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= HESSE_ST_MAX_DIMS);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_ASSERT(t->shape[d] >= 0);
            numel *= t->shape[d]; /* cannot overflow: the element count fits the file */
        }
        FUZZ_ASSERT(numel == t->numel);
        FUZZ_ASSERT((uint64_t)t->numel * hesse_dtype_size(t->dtype) == t->end - t->begin);
        double *v = malloc(((size_t)t->numel + 1) * sizeof *v);
        FUZZ_ASSERT(v);
        FUZZ_ASSERT(hesse_st_read_f64(f, t, v) == HESSE_OK);
        FUZZ_ASSERT(t->numel == 0 || hesse_st_data(f, t) != NULL);
        free(v);
    }
    FUZZ_ASSERT(hesse_st_at(f, hesse_st_count(f)) == NULL);
    for (int i = 0; i < hesse_st_meta_count(f); i++) {
        const char *key = hesse_st_meta_key(f, i);
        FUZZ_ASSERT(key && hesse_st_meta(f, key) != NULL);
    }
    hesse_st_close(f);
    return 0;
}
