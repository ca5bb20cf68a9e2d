/* The CIFAR-10 and CIFAR-100 binary versions (https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * A file is a sequence of fixed-size records: the label byte(s), then 3072 pixel bytes, the
 * 32x32 red plane, then green, then blue, each row-major, which is already PyTorch's CHW
 * order. CIFAR-10 records carry one label (10 classes); CIFAR-100 records carry the coarse
 * label (20 superclasses) and then the fine label (100 classes), and hesse uses the fine one. */
#include "data-impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CIFAR_SIDE   32
#define CIFAR_PIXELS ((size_t)3 * CIFAR_SIDE * CIFAR_SIDE)

typedef struct {
    int version;     /* 10 or 100 */
    int label_bytes; /* bytes before the pixels */
    int fine;        /* offset of the label hesse uses */
    int classes;     /* fine classes */
    int coarse;      /* CIFAR-100: coarse classes (checked, then dropped); 0 for none */
} cifar_format;

static const cifar_format cifar10 = {10, 1, 0, 10, 0};
static const cifar_format cifar100 = {100, 2, 1, 100, 20};

/* Appends the records of one file to ds (which grows). */
static int cifar_append(const char *path, const cifar_format *fmt, hesse_dataset *ds) {
    int rc = HESSE_OK;
    uint8_t *buf = NULL;
    size_t len = 0, record = (size_t)fmt->label_bytes + CIFAR_PIXELS;
    HESSE_CHECK(hesse_data_read_all(path, &buf, &len));
    if (len % record != 0 || len == 0) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: size %zu bytes is not a positive multiple of the %zu-byte CIFAR-%d "
                         "record",
                         path, len, record, fmt->version);
        goto cleanup;
    }
    int64_t m = (int64_t)(len / record), n = ds->n;
    uint8_t *bytes = realloc(ds->bytes, (size_t)(n + m) * CIFAR_PIXELS);
    if (!bytes) {
        rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %" PRId64 " images", path, n + m);
        goto cleanup;
    }
    ds->bytes = bytes;
    int32_t *labels = realloc(ds->labels, (size_t)(n + m) * sizeof *labels);
    if (!labels) {
        rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %" PRId64 " labels", path, n + m);
        goto cleanup;
    }
    ds->labels = labels;
    for (int64_t r = 0; r < m; r++) {
        const uint8_t *rec = buf + (size_t)r * record;
        if (fmt->coarse && rec[0] >= fmt->coarse) {
            rc = hesse_error(HESSE_EINPUT,
                             "%s: record %lld has coarse label %d (expected 0 to %d for CIFAR-%d)",
                             path, (long long)r, rec[0], fmt->coarse - 1, fmt->version);
            goto cleanup;
        }
        if (rec[fmt->fine] >= fmt->classes) {
            rc = hesse_error(HESSE_EINPUT,
                             "%s: record %lld has label %d (expected 0 to %d for CIFAR-%d)", path,
                             (long long)r, rec[fmt->fine], fmt->classes - 1, fmt->version);
            goto cleanup;
        }
        labels[n + r] = rec[fmt->fine];
        memcpy(bytes + (size_t)(n + r) * CIFAR_PIXELS, rec + fmt->label_bytes, CIFAR_PIXELS);
    }
    ds->n = n + m;
cleanup:
    free(buf);
    return rc;
}

static int has(const char *dir, const char *file) {
    char path[HESSE_DATA_PATH_MAX];
    int w = snprintf(path, sizeof path, "%s/%s", dir, file);
    return w > 0 && (size_t)w < sizeof path && hesse_data_is_file(path);
}

int hesse_data_cifar_present(const char *dir, int version) {
    if (version == 10) return has(dir, "data_batch_1.bin") || has(dir, "test_batch.bin");
    return has(dir, "train.bin") || has(dir, "test.bin");
}

int hesse_data_open_cifar(const char *dir, int version, hesse_split split, const char *name,
                          hesse_dataset **out) {
    int rc = HESSE_OK;
    *out = NULL;
    const cifar_format *fmt = version == 100 ? &cifar100 : &cifar10;
    hesse_dataset *ds = hesse_data_new(name);
    if (!ds) return HESSE_ENOMEM;
    char path[HESSE_DATA_PATH_MAX], file[32];
    if (version == 10 && split == HESSE_SPLIT_TRAIN) {
        for (int b = 1; b <= 5; b++) {
            snprintf(file, sizeof file, "data_batch_%d.bin", b);
            HESSE_CHECK(hesse_data_join(path, sizeof path, dir, file));
            HESSE_CHECK(cifar_append(path, fmt, ds));
        }
    } else {
        const char *only = version == 10                ? "test_batch.bin"
                           : split == HESSE_SPLIT_TRAIN ? "train.bin"
                                                        : "test.bin";
        HESSE_CHECK(hesse_data_join(path, sizeof path, dir, only));
        HESSE_CHECK(cifar_append(path, fmt, ds));
    }
    ds->c = 3;
    ds->h = CIFAR_SIDE;
    ds->w = CIFAR_SIDE;
    ds->num_classes = fmt->classes;
    *out = ds;
    return HESSE_OK;
cleanup:
    hesse_dataset_free(ds);
    return rc;
}
