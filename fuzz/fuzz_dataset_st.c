/* Datasets stored as safetensors (data/dataset_st.c): tensors "x" and "y", their dtypes and
 * shapes, label ranges, num_classes metadata, non-finite values. A dataset that opens must
 * select (preprocess to double) without failing, and every label must lie in range. */
#include "fuzz.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("data.safetensors", data, size);
    hesse_dataset *ds = NULL;
    hesse_clear_error();
    int rc = hesse_dataset_read_safetensors(path, &ds);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        FUZZ_ASSERT(ds == NULL);
        return 0;
    }
    int64_t n = hesse_dataset_size(ds);
    int classes = hesse_dataset_num_classes(ds);
    FUZZ_ASSERT(n >= 1 && classes >= 1);
    for (int64_t i = 0; i < n; i++) {
        int32_t y = hesse_dataset_label(ds, i);
        FUZZ_ASSERT(y >= 0 && y < classes);
    }
    hesse_samples s;
    rc = hesse_dataset_select(ds, NULL, NULL, &s);
    FUZZ_ASSERT(rc == HESSE_OK);
    int64_t dim = hesse_samples_dim(&s);
    for (int64_t i = 0; i < s.n * dim; i++) FUZZ_ASSERT(isfinite(s.x[i]));
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    return 0;
}
