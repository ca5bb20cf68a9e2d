/* The dataset object: one split as stored (uint8 pixels or doubles, and labels), opened by
 * name or directory, or built from arrays. Selection and preprocessing are in select.c. */
#include "data-impl.h"

#include <stdlib.h>
#include <string.h>

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

hesse_dataset *hesse_data_new(const char *name) {
    hesse_dataset *ds = calloc(1, sizeof *ds);
    size_t len = strlen(name);
    char *copy = ds ? malloc(len + 1) : NULL;
    if (!copy) {
        free(ds);
        hesse_error(HESSE_ENOMEM, "cannot allocate a dataset");
        return NULL;
    }
    memcpy(copy, name, len + 1);
    ds->name = copy;
    return ds;
}

void hesse_dataset_free(hesse_dataset *ds) {
    if (!ds) return;
    free(ds->name);
    free(ds->bytes);
    free(ds->values);
    free(ds->labels);
    free(ds);
}

int hesse_dataset_from_arrays(const char *name, int64_t n, int c, int h, int w, int num_classes,
                              const uint8_t *pixels, const double *values, const int32_t *labels,
                              hesse_dataset **out) {
    return hesse_data_from_arrays(name, n, c, h, w, num_classes, 1, pixels, values, labels, out);
}

int hesse_data_from_arrays(const char *name, int64_t n, int c, int h, int w, int num_classes,
                           int targets, const uint8_t *pixels, const double *values,
                           const int32_t *labels, hesse_dataset **out) {
    int rc = HESSE_OK;
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_dataset_from_arrays: out is NULL");
    *out = NULL;
    if (!name) name = "arrays";
    if (!labels || (pixels == NULL) == (values == NULL))
        return hesse_error(HESSE_EINVAL, "%s: need labels and exactly one of pixels and values",
                           name);
    if (n < 1 || c < 1 || h < 1 || w < 1)
        return hesse_error(HESSE_EINPUT,
                           "%s: invalid shape [%lld, %d, %d, %d] (expected positive sizes)", name,
                           (long long)n, c, h, w);
    int64_t dim = (int64_t)c * h * w;
    if (dim > INT32_MAX || n > INT64_MAX / 8 / dim)
        return hesse_error(HESSE_EINPUT, "%s: %lld samples of %lld values are too many", name,
                           (long long)n, (long long)dim);
    if (num_classes < 1)
        return hesse_error(HESSE_EINPUT, "%s: %d classes (expected at least 1)", name, num_classes);
    if (targets < 1 || targets > INT32_MAX / 8 || n > INT64_MAX / 8 / targets)
        return hesse_error(HESSE_EINPUT, "%s: %d labels per sample (expected at least 1)", name,
                           targets);
    const int64_t nl = n * targets;
    for (int64_t i = 0; i < nl; i++)
        if (labels[i] < 0 || labels[i] >= num_classes) {
            if (targets == 1)
                return hesse_error(HESSE_EINPUT, "%s: label %d of sample %lld is outside [0, %d)",
                                   name, labels[i], (long long)i, num_classes);
            return hesse_error(
                HESSE_EINPUT, "%s: label %d of sample %lld at position %lld is outside [0, %d)",
                name, labels[i], (long long)(i / targets), (long long)(i % targets), num_classes);
        }
    hesse_dataset *ds = hesse_data_new(name);
    if (!ds) return HESSE_ENOMEM;
    size_t count = (size_t)(n * dim);
    ds->labels = malloc((size_t)nl * sizeof *ds->labels);
    if (pixels) {
        ds->bytes = malloc(count);
        if (ds->bytes) memcpy(ds->bytes, pixels, count);
    } else {
        ds->values = malloc(count * sizeof *ds->values);
        if (ds->values) memcpy(ds->values, values, count * sizeof *ds->values);
    }
    if (!ds->labels || (!ds->bytes && !ds->values)) {
        rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %lld samples", name, (long long)n);
        goto cleanup;
    }
    memcpy(ds->labels, labels, (size_t)nl * sizeof *ds->labels);
    ds->n = n;
    ds->targets = targets;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->num_classes = num_classes;
    *out = ds;
    return HESSE_OK;
cleanup:
    hesse_dataset_free(ds);
    return rc;
}

int64_t hesse_dataset_size(const hesse_dataset *ds) {
    return ds ? ds->n : 0;
}

void hesse_dataset_shape(const hesse_dataset *ds, int *c, int *h, int *w) {
    if (c) *c = ds->c;
    if (h) *h = ds->h;
    if (w) *w = ds->w;
}

int hesse_dataset_num_classes(const hesse_dataset *ds) {
    return ds->num_classes;
}

const char *hesse_dataset_name(const hesse_dataset *ds) {
    return ds->name;
}

int hesse_dataset_is_bytes(const hesse_dataset *ds) {
    return ds->bytes != NULL;
}

int32_t hesse_dataset_label(const hesse_dataset *ds, int64_t i) {
    return i >= 0 && i < ds->n * hesse_data_targets(ds) ? ds->labels[i] : -1;
}

int hesse_dataset_targets(const hesse_dataset *ds) {
    return hesse_data_targets(ds);
}

int hesse_dataset_is_tokens(const hesse_dataset *ds) {
    return ds->tokens;
}

const uint8_t *hesse_dataset_pixels(const hesse_dataset *ds) {
    return ds->bytes;
}

const double *hesse_dataset_values(const hesse_dataset *ds) {
    return ds->values;
}

/* ---- Opening by name or directory ---------------------------------------------------------- */

typedef enum { FORMAT_AUTO, FORMAT_IDX, FORMAT_CIFAR10, FORMAT_CIFAR100 } data_format;

static const struct {
    const char *prefix;
    data_format format;
} prefixes[] = {{"idx:", FORMAT_IDX}, {"cifar10:", FORMAT_CIFAR10}, {"cifar100:", FORMAT_CIFAR100}};

/* "label/train" with label the directory's last component ("/d/mnist/" -> "mnist"). */
static void split_name(const char *label, hesse_split split, char *buf, size_t cap) {
    size_t end = strlen(label);
    while (end > 1 && label[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && label[start - 1] != '/') start--;
    if (start == end) start = 0; /* "/" itself */
    snprintf(buf, cap, "%.*s/%s", (int)(end - start), label + start,
             split == HESSE_SPLIT_TRAIN ? "train" : "test");
}

int hesse_dataset_open(const char *spec, hesse_split split, hesse_dataset **out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_dataset_open: out is NULL");
    *out = NULL;
    if (!spec || !*spec) return hesse_error(HESSE_EINVAL, "hesse_dataset_open: no dataset named");
    if (split != HESSE_SPLIT_TRAIN && split != HESSE_SPLIT_TEST)
        return hesse_error(HESSE_EINVAL, "%s: unknown split %d", spec, (int)split);
    if (hesse_gaussmix_is_spec(spec)) {
        hesse_gaussmix g;
        int rc = hesse_gaussmix_parse(spec, &g);
        return rc == HESSE_OK ? hesse_dataset_gaussmix(&g, split, out) : rc;
    }
    if (hesse_text_is_spec(spec)) {
        char path[HESSE_DATA_PATH_MAX];
        int rc = hesse_text_find(spec, path, sizeof path);
        return rc == HESSE_OK ? hesse_dataset_text(path, HESSE_TEXT_CONTEXT_DEFAULT, split, out)
                              : rc;
    }
    const size_t speclen = strlen(spec), ext = sizeof ".safetensors" - 1;
    if (speclen > ext && strcmp(spec + speclen - ext, ".safetensors") == 0) {
        if (split != HESSE_SPLIT_TRAIN)
            return hesse_error(HESSE_EINVAL,
                               "%s: a .safetensors dataset holds one split; open the file of the "
                               "split you want",
                               spec);
        return hesse_dataset_read_safetensors(spec, out);
    }

    data_format format = FORMAT_AUTO;
    const char *dir = spec, *label = spec;
    char name[HESSE_DATA_PATH_MAX + 8];
    if (strcmp(spec, "fashion-mnist") == 0) {
        const char *env = getenv("HESSE_FASHION_MNIST_DIR");
        dir = env && *env ? env : FASHION_MNIST_DIR;
        format = FORMAT_IDX;
        if (!hesse_data_is_dir(dir))
            return hesse_error(HESSE_EINPUT,
                               "fashion-mnist: %s is not a directory (install the Debian package "
                               "dataset-fashion-mnist, or set HESSE_FASHION_MNIST_DIR)",
                               dir);
        snprintf(name, sizeof name, "fashion-mnist/%s",
                 split == HESSE_SPLIT_TRAIN ? "train" : "test");
    } else {
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
            size_t len = strlen(prefixes[i].prefix);
            if (strncmp(spec, prefixes[i].prefix, len) == 0) {
                format = prefixes[i].format;
                dir = label = spec + len;
            }
        }
        if (!hesse_data_is_dir(dir))
            return hesse_error(HESSE_EINPUT,
                               "%s: not a dataset directory (expected a directory of IDX or CIFAR "
                               "binary files, or the name fashion-mnist)",
                               dir);
        split_name(label, split, name, sizeof name);
    }

    if (format == FORMAT_AUTO) {
        /* CIFAR first: its file names are specific, while an IDX directory is recognised by
         * any one of four names. */
        if (hesse_data_cifar_present(dir, 10))
            format = FORMAT_CIFAR10;
        else if (hesse_data_cifar_present(dir, 100))
            format = FORMAT_CIFAR100;
        else if (hesse_data_idx_present(dir))
            format = FORMAT_IDX;
        else
            return hesse_error(HESSE_EINPUT,
                               "%s: no dataset files found (looked for IDX "
                               "train-images-idx3-ubyte[.gz] and the like, CIFAR-10 "
                               "data_batch_1.bin / test_batch.bin, CIFAR-100 train.bin / test.bin)",
                               dir);
    }
    switch (format) {
    case FORMAT_CIFAR10:
        return hesse_data_open_cifar(dir, 10, split, name, out);
    case FORMAT_CIFAR100:
        return hesse_data_open_cifar(dir, 100, split, name, out);
    default:
        return hesse_data_open_idx_dir(dir, split, name, out);
    }
}
