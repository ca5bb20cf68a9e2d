/* linear(in_features, out_features, bias=True): y = x W^T + b, W [out, in], over flat features
 * (c, 1, 1) with c = in, or over the last dimension of any other input (c, h, w) with w = in:
 * output (c, h, out), the c*h positions sharing the weight (PyTorch's nn.Linear on [..., in];
 * a sequence (1, T, D) is T tokens). Its passes are in layer_linear.inc. */
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
    if (h != 1 || w != 1) { /* on the last dimension: positions c*h share the weight */
        if (w != L->in_c)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s linear(%d,%d) on input %dx%dx%d acts on "
                               "its last dimension, which is %d, not %d (add flatten before it "
                               "for flat features) (\"%s\")",
                               label, L->in_c, L->out_c, c, h, w, w, L->in_c, cx->shown);
        *oc = c;
        *oh = h;
        *ow = L->out_c;
        return HESSE_OK;
    }
    (void)oh;
    (void)ow;
    if (c != L->in_c)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s linear(%d,%d) expects %d input features, "
                           "the layers before it give %d (\"%s\")",
                           label, L->in_c, L->out_c, L->in_c, c, cx->shown);
    *oc = L->out_c;
    return HESSE_OK;
}

static void params(const hesse_layer *L, int64_t *weights, int64_t *biases, int64_t *buffers) {
    int ni, no, P;
    (void)buffers;
    nn_linear_dims(L, &ni, &no, &P);
    if (__builtin_mul_overflow((int64_t)no, (int64_t)ni, weights) || *weights > NN_MAX_PARAMS)
        *weights = NN_MAX_PARAMS + 1;
    *biases = L->has_bias ? no : 0;
}

static void describe(const hesse_layer *L, char *buf, size_t cap) {
    int ni, no, P;
    nn_linear_dims(L, &ni, &no, &P);
    snprintf(buf, cap, "linear(%d,%d%s)", ni, no, L->has_bias ? "" : ",bias=False");
}

static void tensor_shape(const hesse_layer *L, int64_t shape[4], int *wdim, int *bdim) {
    int ni, no, P;
    nn_linear_dims(L, &ni, &no, &P);
    shape[0] = no; /* [out, in] */
    shape[1] = ni;
    *wdim = 2;
    *bdim = 1;
}

/* kaiming-uniform with fan_in = in_features (the weight's rows are out_features long) */
static void init(const hesse_layer *L, double *params, hesse_rng *rng) {
    int ni, P;
    hesse_layer t = *L;
    nn_linear_dims(L, &ni, &t.out_c, &P);
    nn_init_kaiming(&t, params, rng);
}

static void scratch(const hesse_layer *L, int k, nn_scratch *s) {
    int ni, no, P;
    nn_linear_dims(L, &ni, &no, &P);
    int64_t d = (int64_t)P * (ni > no ? ni : no);
    if ((int64_t)k * d > s->perm) s->perm = (int64_t)k * d;
}

/* The positions share the weight as a conv's do: xx over samples and positions, M summed over
 * positions; the output is [P, out] per sample (NN_TOKENWISE). */
static void factor_dims(const hesse_layer *L, hesse_layer_factors *f) {
    int ni, no, P;
    nn_linear_dims(L, &ni, &no, &P);
    f->in = ni;
    f->out = no;
    f->positions = P;
}

/* xx += x^T x, xs += the sum of the rows, over the chunk's inputs [B * P, in] */
static void factor_xx(nn_work_f64 *w, int B, const hesse_layer_factors *f, double *xx, double *xs) {
    const double *x = w->a[f->layer];
    const int64_t rows = (int64_t)B * f->positions;
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)f->in, (int)rows, 1.0, x, (int)f->in,
                1.0, xx, (int)f->in);
    for (int64_t b = 0; b < rows; b++)
        for (int64_t j = 0; j < f->in; j++) xs[j] += x[b * f->in + j];
}

NN_DECLARE_PASSES(linear);

const nn_layer_type nn_layer_linear = {
    .name = "linear",
    .flags = NN_TOKENWISE,
    .configure = configure,
    .shape = shape,
    .params = params,
    .describe = describe,
    .tensor_shape = tensor_shape,
    .init = init,
    .scratch = scratch,
    .factor_dims = factor_dims,
    .factor_xx = factor_xx,
    NN_PASSES(linear),
};
