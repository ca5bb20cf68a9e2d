/* Datasets stored as safetensors: "x" holds the samples, "y" the integer labels. This is
 * how users bring data that hesse has no loader for: save two tensors from NumPy or
 * PyTorch and point hesse at the file. */
#include "data-impl.h"

#include <cjson/cJSON.h>

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_float(hesse_dtype d) {
    return d == HESSE_DTYPE_F64 || d == HESSE_DTYPE_F32 || d == HESSE_DTYPE_F16 ||
           d == HESSE_DTYPE_BF16;
}

static int is_integer(hesse_dtype d) {
    return d == HESSE_DTYPE_I64 || d == HESSE_DTYPE_I32 || d == HESSE_DTYPE_I16 ||
           d == HESSE_DTYPE_I8 || d == HESSE_DTYPE_U8 || d == HESSE_DTYPE_U16 ||
           d == HESSE_DTYPE_U32 || d == HESSE_DTYPE_U64;
}

/* Per-sample shape from x's shape: [N, C, H, W], [N, H, W] (one channel) or [N, D] (D flat
 * features: c = D, h = w = 1, as a linear layer expects). */
static int sample_shape(const char *path, const hesse_st_tensor *x, int *c, int *h, int *w) {
    int64_t s[3] = {1, 1, 1};
    if (x->ndim == 4) {
        s[0] = x->shape[1];
        s[1] = x->shape[2];
        s[2] = x->shape[3];
    } else if (x->ndim == 3) {
        s[1] = x->shape[1];
        s[2] = x->shape[2];
    } else if (x->ndim == 2) {
        s[0] = x->shape[1];
    } else {
        return hesse_error(HESSE_EINPUT,
                           "%s: tensor 'x' has %d dimensions, expected [N, C, H, W], [N, H, W] "
                           "or [N, D]",
                           path, x->ndim);
    }
    if (x->shape[0] < 1 || s[0] < 1 || s[1] < 1 || s[2] < 1 || s[0] > INT32_MAX ||
        s[1] > INT32_MAX || s[2] > INT32_MAX)
        return hesse_error(HESSE_EINPUT, "%s: tensor 'x' has an empty or oversized dimension",
                           path);
    *c = (int)s[0];
    *h = (int)s[1];
    *w = (int)s[2];
    return HESSE_OK;
}

/* Labels as int32, checked against [0, INT32_MAX); *max receives the largest. */
static int read_labels(const hesse_st_file *f, const hesse_st_tensor *y, int32_t *labels,
                       int32_t *max) {
    const char *path = hesse_st_path(f);
    double *v = malloc(((size_t)y->numel + 1) * sizeof *v);
    if (!v)
        return hesse_error(HESSE_ENOMEM, "%s: out of memory for %" PRId64 " labels", path,
                           y->numel);
    int rc = hesse_st_read_f64(f, y, v);
    *max = -1;
    for (int64_t i = 0; rc == HESSE_OK && i < y->numel; i++) {
        /* Integers convert exactly up to 2^53; anything near INT32_MAX is refused anyway. */
        if (v[i] < 0 || v[i] >= INT32_MAX) {
            const int64_t per = y->ndim == 2 && y->shape[1] > 0 ? y->shape[1] : 1;
            rc = hesse_error(HESSE_EINPUT, "%s: tensor 'y': label %.0f of sample %" PRId64 " is %s",
                             path, v[i], i / per, v[i] < 0 ? "negative" : "too large");
            break;
        }
        labels[i] = (int32_t)v[i];
        if (labels[i] > *max) *max = labels[i];
    }
    free(v);
    return rc;
}

int hesse_dataset_read_safetensors(const char *path, hesse_dataset **out) {
    if (!path || !out)
        return hesse_error(HESSE_EINVAL, "hesse_dataset_read_safetensors: NULL argument");
    *out = NULL;
    hesse_st_file *f = NULL;
    int32_t *labels = NULL;
    double *values = NULL;
    int rc;
    HESSE_CHECK(hesse_st_open(path, &f));
    const hesse_st_tensor *x = hesse_st_find(f, "x"), *y = hesse_st_find(f, "y");
    if (!x || !y) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: no tensor '%s'; a dataset file holds 'x' (samples) and 'y' "
                         "(integer labels)",
                         path, !x ? "x" : "y");
        goto cleanup;
    }
    if (x->dtype != HESSE_DTYPE_U8 && !is_float(x->dtype)) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: tensor 'x' has dtype %s, expected U8 (pixels) or F64, F32, F16, "
                         "BF16",
                         path, hesse_dtype_name(x->dtype));
        goto cleanup;
    }
    if (!is_integer(y->dtype)) {
        rc = hesse_error(HESSE_EINPUT, "%s: tensor 'y' has dtype %s, expected an integer type",
                         path, hesse_dtype_name(y->dtype));
        goto cleanup;
    }
    int c = 0, h = 0, w = 0;
    HESSE_CHECK(sample_shape(path, x, &c, &h, &w));
    int64_t n = x->shape[0];
    /* y [N]: one label per sample; y [N, P]: P labels per sample (a sequence model's targets) */
    const int64_t P = y->ndim == 2 ? y->shape[1] : 1;
    if ((y->ndim != 1 && y->ndim != 2) || y->shape[0] != n || P < 1 || P > 65536) {
        char got[64] = "[";
        for (int d = 0; d < y->ndim && strlen(got) < 40; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%" PRId64, d ? ", " : "",
                     y->shape[d]);
        snprintf(got + strlen(got), sizeof got - strlen(got), "]");
        rc =
            hesse_error(HESSE_EINPUT,
                        "%s: tensor 'y' has shape %s, expected [%" PRId64 "] (one label per "
                        "sample of 'x') or [%" PRId64 ", P] (P labels per sample, 1 <= P <= 65536)",
                        path, got, n, n);
        goto cleanup;
    }
    labels = malloc((size_t)(n * P) * sizeof *labels);
    if (!labels) {
        rc = hesse_error(HESSE_ENOMEM, "%s: out of memory for %" PRId64 " labels", path, n);
        goto cleanup;
    }
    int32_t max = -1;
    HESSE_CHECK(read_labels(f, y, labels, &max));

    int num_classes = max + 1;
    const char *nc = hesse_st_meta(f, "num_classes");
    if (nc) {
        char *end;
        long v = strtol(nc, &end, 10);
        if (end == nc || *end || v < 1 || v > INT32_MAX) {
            rc = hesse_error(HESSE_EINPUT,
                             "%s: metadata num_classes is '%s', expected a positive integer", path,
                             nc);
            goto cleanup;
        }
        if (v > HESSE_MAX_CLASSES) {
            rc = hesse_error(HESSE_EINPUT,
                             "%s: metadata num_classes is %ld, more than the %d classes hesse "
                             "takes",
                             path, v, HESSE_MAX_CLASSES);
            goto cleanup;
        }
        if (v <= max) {
            rc = hesse_error(HESSE_EINPUT,
                             "%s: tensor 'y' holds label %d but metadata num_classes is %ld", path,
                             (int)max, v);
            goto cleanup;
        }
        num_classes = (int)v;
    }

    if (x->dtype == HESSE_DTYPE_U8) {
        rc = hesse_data_from_arrays(path, n, c, h, w, num_classes, (int)P, hesse_st_data(f, x),
                                    NULL, labels, out);
    } else {
        values = malloc((size_t)x->numel * sizeof *values);
        if (!values) {
            rc = hesse_error(HESSE_ENOMEM, "%s: out of memory for %" PRId64 " values", path,
                             x->numel);
            goto cleanup;
        }
        HESSE_CHECK(hesse_st_read_f64(f, x, values));
        int64_t dim = x->numel / n;
        for (int64_t i = 0; i < x->numel; i++)
            if (!isfinite(values[i])) {
                rc = hesse_error(HESSE_EINPUT,
                                 "%s: tensor 'x': sample %" PRId64 " holds a non-finite value "
                                 "(%g) at position %" PRId64,
                                 path, i / dim, values[i], i % dim);
                goto cleanup;
            }
        rc = hesse_data_from_arrays(path, n, c, h, w, num_classes, (int)P, NULL, values, labels,
                                    out);
    }
cleanup:
    free(values);
    free(labels);
    hesse_st_close(f);
    return rc;
}
