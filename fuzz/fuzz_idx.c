/* IDX files of the MNIST family (data/idx.c, data/file.c), raw or gzip-compressed: magic,
 * dimensions, counts, truncation, trailing data, corrupt or truncated gzip streams.
 *
 * Input: a little-endian u32 L, then L bytes of the images file, then the labels file. */
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t split = fuzz_le32(data);
    if (split > size - 4) split = size - 4;
    char images[512];
    snprintf(images, sizeof images, "%s", fuzz_write_file("images-idx3-ubyte", data + 4, split));
    const char *labels = fuzz_write_file("labels-idx1-ubyte", data + 4 + split, size - 4 - split);
    hesse_dataset *ds = NULL;
    hesse_clear_error();
    int rc = hesse_dataset_open_idx(images, labels, &ds);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        FUZZ_ASSERT(ds == NULL);
        return 0;
    }
    int c, h, w;
    hesse_dataset_shape(ds, &c, &h, &w);
    int64_t n = hesse_dataset_size(ds);
    FUZZ_ASSERT(c == 1 && h >= 1 && w >= 1 && n >= 1);
    /* Every pixel is backed by the file (ASan checks the reads). */
    const uint8_t *px = hesse_dataset_pixels(ds);
    unsigned sum = 0;
    for (int64_t i = 0; i < n * h * w; i++) sum += px[i];
    (void)sum;
    for (int64_t i = 0; i < n; i++) {
        int32_t y = hesse_dataset_label(ds, i);
        FUZZ_ASSERT(y >= 0 && y < hesse_dataset_num_classes(ds));
    }
    hesse_selection sel = hesse_selection_defaults();
    sel.n = n < 16 ? n : 16;
    hesse_samples s;
    FUZZ_ASSERT(hesse_dataset_select(ds, &sel, NULL, &s) == HESSE_OK);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    return 0;
}
