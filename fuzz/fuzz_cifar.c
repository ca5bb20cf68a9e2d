/* CIFAR-10 / CIFAR-100 binary files (data/cifar.c, data/file.c), raw or gzip-compressed:
 * record sizes, label ranges (coarse and fine), empty and truncated files.
 *
 * Input: one byte (bit 0: CIFAR-100, bit 1: the training split), then the file. The CIFAR-10
 * training split reads five files: the input is written to each of them. */
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int version = (data[0] & 1) ? 100 : 10;
    hesse_split split = (data[0] & 2) ? HESSE_SPLIT_TRAIN : HESSE_SPLIT_TEST;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    if (version == 10 && split == HESSE_SPLIT_TRAIN) {
        for (int b = 1; b <= 5; b++) {
            char name[32];
            snprintf(name, sizeof name, "data_batch_%d.bin", b);
            fuzz_write_file(name, body, len);
        }
    } else {
        const char *name = version == 10                ? "test_batch.bin"
                           : split == HESSE_SPLIT_TRAIN ? "train.bin"
                                                        : "test.bin";
        fuzz_write_file(name, body, len);
    }
    char spec[512];
    snprintf(spec, sizeof spec, "cifar%d:%s", version, fuzz_dir());
    hesse_dataset *ds = NULL;
    hesse_clear_error();
    int rc = hesse_dataset_open(spec, split, &ds);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        FUZZ_ASSERT(ds == NULL);
        return 0;
    }
    int c, h, w;
    hesse_dataset_shape(ds, &c, &h, &w);
    FUZZ_ASSERT(c == 3 && h == 32 && w == 32);
    int64_t n = hesse_dataset_size(ds);
    FUZZ_ASSERT(n >= 1 && hesse_dataset_num_classes(ds) == version);
    for (int64_t i = 0; i < n; i++) {
        int32_t y = hesse_dataset_label(ds, i);
        FUZZ_ASSERT(y >= 0 && y < version);
    }
    hesse_samples s;
    hesse_selection sel = hesse_selection_defaults();
    sel.n = n < 4 ? n : 4;
    FUZZ_ASSERT(hesse_dataset_select(ds, &sel, NULL, &s) == HESSE_OK);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    return 0;
}
