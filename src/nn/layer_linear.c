/* linear(in_features, out_features, bias=True): y = x W^T + b over flat features, W [out, in].
 * Its passes are in layer_linear.inc. */
#include "nn/layer-impl.h"

#include <cblas.h>
#include <stdio.h>

static int configure(const arch_ctx *cx, const arch_item *it, const char *label, hesse_layer *L) {
    static const char *const names[] = {"in_features", "out_features", "bias"};
    const arch_arg *s[MAX_ARGS];
    int rc, unused;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 3, s)) != HESSE_OK) return rc;
    if ((rc = nn_arch_positive(cx, it, label, "in_features", s[0], 0, &L->in_c, &unused, -1)))
        return rc;
    if ((rc = nn_arch_positive(cx, it, label, "out_features", s[1], 0, &L->out_c, &unused, -1)))
        return rc;
    if ((rc = nn_arch_bool(cx, it, label, "bias", s[2], 1, &L->has_bias))) return rc;
    L->has_weight = 1;
    return HESSE_OK;
}

static int shape(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h, int w,
                 int *oc, int *oh, int *ow) {
    (void)oh;
    (void)ow;
    if (h != 1 || w != 1)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s linear(%d,%d) needs flat input but gets "
                           "%dx%dx%d (add flatten before it) (\"%s\")",
                           label, L->in_c, L->out_c, c, h, w, cx->shown);
    if (c != L->in_c)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s linear(%d,%d) expects %d input features, "
                           "the layers before it give %d (\"%s\")",
                           label, L->in_c, L->out_c, L->in_c, c, cx->shown);
    *oc = L->out_c;
    return HESSE_OK;
}

static void params(const hesse_layer *L, int64_t *weights, int64_t *biases, int64_t *buffers) {
    (void)buffers;
    if (__builtin_mul_overflow((int64_t)L->out_c, (int64_t)L->in_c, weights) ||
        *weights > NN_MAX_PARAMS)
        *weights = NN_MAX_PARAMS + 1;
    *biases = L->has_bias ? L->out_c : 0;
}

static void describe(const hesse_layer *L, char *buf, size_t cap) {
    snprintf(buf, cap, "linear(%d,%d%s)", L->in_c, L->out_c, L->has_bias ? "" : ",bias=False");
}

static void tensor_shape(const hesse_layer *L, int64_t shape[4], int *wdim, int *bdim) {
    (void)L;
    (void)shape; /* [out, in] */
    *wdim = 2;
    *bdim = 1;
}

static void scratch(const hesse_layer *L, int k, nn_scratch *s) {
    int64_t d = L->in_c > L->out_c ? L->in_c : L->out_c;
    if ((int64_t)k * d > s->perm) s->perm = (int64_t)k * d;
}

static void factor_dims(const hesse_layer *L, hesse_layer_factors *f) {
    f->in = L->in_c;
    f->out = L->out_c;
    f->positions = 1;
}

/* xx += x^T x, xs += the sum of the rows, over the chunk's inputs [B, in] */
static void factor_xx(nn_work_f64 *w, int B, const hesse_layer_factors *f, double *xx, double *xs) {
    const double *x = w->a[f->layer];
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)f->in, B, 1.0, x, (int)f->in, 1.0, xx,
                (int)f->in);
    for (int b = 0; b < B; b++)
        for (int64_t j = 0; j < f->in; j++) xs[j] += x[b * f->in + j];
}

NN_DECLARE_PASSES(linear);

const nn_layer_type nn_layer_linear = {
    .name = "linear",
    .configure = configure,
    .shape = shape,
    .params = params,
    .describe = describe,
    .tensor_shape = tensor_shape,
    .init = nn_init_kaiming,
    .scratch = scratch,
    .factor_dims = factor_dims,
    .factor_xx = factor_xx,
    NN_PASSES(linear),
};
