/* The IDX format of the MNIST family (MNIST, Fashion-MNIST, KMNIST, EMNIST's byte files).
 *
 * A file is a big-endian header, magic 0x0000TTDD (TT the element type, 0x08 for unsigned
 * bytes; DD the number of dimensions), DD big-endian uint32 sizes, then the elements in
 * row-major order. Images are 0x00000803 [n, rows, cols], labels 0x00000801 [n]. Files may
 * be gzip-compressed whatever their name (file.c decides by content). */
#include "data-impl.h"

#include <stdlib.h>
#include <string.h>

#define IDX_UBYTE      0x08u
#define IDX_MAX_SIDE   32768u    /* rows and columns above this are a corrupt header */
#define IDX_MAX_COUNT  INT32_MAX /* so are more items than this */
#define IDX_MIN_LABELS 10        /* the MNIST family has ten classes */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads and checks the header of an IDX ubyte file of `ndims` dimensions. `what` names the
 * content for messages ("images", "labels"). */
static int idx_header(hesse_data_file *f, int ndims, const char *what, uint32_t *dims) {
    unsigned char hdr[4 + 4 * 3];
    size_t len = 4 + 4 * (size_t)ndims, got = 0;
    int rc = hesse_data_file_read(f, hdr, len, &got);
    if (rc != HESSE_OK) return rc;
    uint32_t expected = IDX_UBYTE << 8 | (uint32_t)ndims;
    if (got >= 4 && be32(hdr) != expected)
        return hesse_error(HESSE_EINPUT, "%s: wrong magic 0x%08x (expected 0x%08x for IDX %s)",
                           f->path, be32(hdr), expected, what);
    if (got < len)
        return hesse_error(HESSE_EINPUT,
                           "%s: truncated IDX %s header (expected %zu bytes, got %zu)", f->path,
                           what, len, got);
    for (int d = 0; d < ndims; d++) dims[d] = be32(hdr + 4 + 4 * (size_t)d);
    if (dims[0] == 0) return hesse_error(HESSE_EINPUT, "%s: holds no %s", f->path, what);
    if (dims[0] > IDX_MAX_COUNT)
        return hesse_error(HESSE_EINPUT, "%s: header declares %u %s (at most %d supported)",
                           f->path, dims[0], what, IDX_MAX_COUNT);
    return HESSE_OK;
}

/* images: [n, h, w] bytes, malloc'ed. */
static int idx_read_images(const char *path, int64_t *n, int *h, int *w, uint8_t **pixels) {
    int rc = HESSE_OK;
    hesse_data_file f;
    uint32_t dims[3] = {0, 0, 0};
    HESSE_CHECK(hesse_data_file_open(&f, path));
    HESSE_CHECK(idx_header(&f, 3, "images", dims));
    if (dims[1] == 0 || dims[2] == 0 || dims[1] > IDX_MAX_SIDE || dims[2] > IDX_MAX_SIDE) {
        rc = hesse_error(HESSE_EINPUT, "%s: implausible image size %ux%u (expected 1 to %u a side)",
                         path, dims[1], dims[2], IDX_MAX_SIDE);
        goto cleanup;
    }
    size_t bytes = (size_t)dims[0] * dims[1] * dims[2];
    HESSE_CHECK(hesse_data_file_read_exact(&f, bytes, 16, pixels));
    *n = dims[0];
    *h = (int)dims[1];
    *w = (int)dims[2];
cleanup:
    hesse_data_file_close(&f);
    return rc;
}

/* labels: n values widened to int32, malloc'ed; *max_label their largest. */
static int idx_read_labels(const char *path, int64_t *n, int32_t **labels, int *max_label) {
    int rc = HESSE_OK;
    hesse_data_file f;
    uint32_t dims[1] = {0};
    uint8_t *raw = NULL;
    HESSE_CHECK(hesse_data_file_open(&f, path));
    HESSE_CHECK(idx_header(&f, 1, "labels", dims));
    HESSE_CHECK(hesse_data_file_read_exact(&f, dims[0], 8, &raw));
    /* NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI): idx_header refused 0 labels */
    *labels = malloc((size_t)dims[0] * sizeof **labels);
    if (!*labels) {
        rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %u labels", path, dims[0]);
        goto cleanup;
    }
    int top = 0;
    for (uint32_t i = 0; i < dims[0]; i++) {
        (*labels)[i] = raw[i];
        if (raw[i] > top) top = raw[i];
    }
    *n = dims[0];
    *max_label = top;
cleanup:
    free(raw);
    hesse_data_file_close(&f);
    return rc;
}

static int idx_open(const char *images_path, const char *labels_path, const char *name,
                    hesse_dataset **out) {
    int rc = HESSE_OK;
    *out = NULL;
    hesse_dataset *ds = hesse_data_new(name);
    if (!ds) return HESSE_ENOMEM;
    int64_t n_labels = 0;
    int max_label = 0;
    HESSE_CHECK(idx_read_images(images_path, &ds->n, &ds->h, &ds->w, &ds->bytes));
    HESSE_CHECK(idx_read_labels(labels_path, &n_labels, &ds->labels, &max_label));
    if (n_labels != ds->n) {
        rc = hesse_error(HESSE_EINPUT, "%s: %lld labels, but %s holds %lld images", labels_path,
                         (long long)n_labels, images_path, (long long)ds->n);
        goto cleanup;
    }
    ds->c = 1;
    ds->num_classes = max_label + 1 > IDX_MIN_LABELS ? max_label + 1 : IDX_MIN_LABELS;
    *out = ds;
    return HESSE_OK;
cleanup:
    hesse_dataset_free(ds);
    return rc;
}

int hesse_dataset_open_idx(const char *images_path, const char *labels_path, hesse_dataset **out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_dataset_open_idx: out is NULL");
    *out = NULL;
    if (!images_path || !labels_path)
        return hesse_error(HESSE_EINVAL, "hesse_dataset_open_idx: a path is NULL");
    const char *slash = strrchr(images_path, '/');
    return idx_open(images_path, labels_path, slash ? slash + 1 : images_path, out);
}

/* The IDX file names of the MNIST family, without the optional ".gz". */
static const char *const idx_names[2][2] = {
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
    {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
};

/* Finds dir/base or dir/base.gz (the plain file first: it reads faster). */
static int idx_find(const char *dir, const char *base, const char *what, char *path) {
    int rc = hesse_data_join(path, HESSE_DATA_PATH_MAX, dir, base);
    if (rc != HESSE_OK || hesse_data_is_file(path)) return rc;
    size_t len = strlen(path);
    if (len + 3 >= HESSE_DATA_PATH_MAX)
        return hesse_error(HESSE_EINPUT, "%s.gz: path too long", path);
    memcpy(path + len, ".gz", 4);
    if (hesse_data_is_file(path)) return HESSE_OK;
    path[len] = '\0';
    return hesse_error(HESSE_EINPUT, "%s: no IDX %s file (looked for %s and %s.gz)", dir, what,
                       path, path);
}

int hesse_data_idx_present(const char *dir) {
    char path[HESSE_DATA_PATH_MAX];
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 2; k++)
            for (int gz = 0; gz < 2; gz++) {
                int w =
                    snprintf(path, sizeof path, "%s/%s%s", dir, idx_names[s][k], gz ? ".gz" : "");
                if (w > 0 && (size_t)w < sizeof path && hesse_data_is_file(path)) return 1;
            }
    return 0;
}

int hesse_data_open_idx_dir(const char *dir, hesse_split split, const char *name,
                            hesse_dataset **out) {
    char images[HESSE_DATA_PATH_MAX], labels[HESSE_DATA_PATH_MAX];
    const char *what = split == HESSE_SPLIT_TRAIN ? "training" : "test";
    char kind[32];
    int rc;
    snprintf(kind, sizeof kind, "%s images", what);
    if ((rc = idx_find(dir, idx_names[split][0], kind, images)) != HESSE_OK) return rc;
    snprintf(kind, sizeof kind, "%s labels", what);
    if ((rc = idx_find(dir, idx_names[split][1], kind, labels)) != HESSE_OK) return rc;
    return idx_open(images, labels, name, out);
}
