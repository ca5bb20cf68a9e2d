/* conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True) as im2col and
 * one GEMM, W [Cout, Cin, kh, kw]. Its passes are in layer_conv2d.inc; the window's output
 * size is shared with pooling (nn_window_shape). */
#include "nn/layer-impl.h"

#include <cblas.h>
#include <stdio.h>

static int configure(const arch_ctx *cx, const arch_item *it, const char *label, hesse_layer *L) {
    static const char *const names[] = {"in_channels", "out_channels", "kernel_size", "stride",
                                        "padding",     "bias",         "dilation",    "groups"};
    const arch_arg *s[MAX_ARGS];
    int rc, unused;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 8, s)) != HESSE_OK) return rc;
    if ((rc = nn_arch_positive(cx, it, label, "in_channels", s[0], 0, &L->in_c, &unused, -1)))
        return rc;
    if ((rc = nn_arch_positive(cx, it, label, "out_channels", s[1], 0, &L->out_c, &unused, -1)))
        return rc;
    if ((rc = nn_arch_positive(cx, it, label, "kernel_size", s[2], 0, &L->kh, &L->kw, -1)))
        return rc;
    if ((rc = nn_arch_positive(cx, it, label, "stride", s[3], 0, &L->sh, &L->sw, 1))) return rc;
    if ((rc = nn_arch_positive(cx, it, label, "padding", s[4], 1, &L->ph, &L->pw, 0))) return rc;
    if ((rc = nn_arch_bool(cx, it, label, "bias", s[5], 1, &L->has_bias))) return rc;
    L->has_weight = 1;
    if ((s[6] && (s[6]->a != 1 || s[6]->b != 1)) || (s[7] && s[7]->a != 1))
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s conv2d: only dilation=1 and groups=1 are "
                           "supported (\"%s\")",
                           label, cx->shown);
    return HESSE_OK;
}

static int shape(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h, int w,
                 int *oc, int *oh, int *ow) {
    if (c != L->in_c)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s conv2d expects %d input channels, the "
                           "input there is %dx%dx%d (\"%s\")",
                           label, L->in_c, c, h, w, cx->shown);
    *oc = L->out_c;
    return nn_window_shape(cx, label, L, c, h, w, oh, ow);
}

int nn_window_shape(const arch_ctx *cx, const char *label, const hesse_layer *L, int c, int h,
                    int w, int *oh, int *ow) {
    /* In 64 bits: padding may be up to 1e9 on each side. */
    int64_t ph = (int64_t)h + 2 * (int64_t)L->ph, pw = (int64_t)w + 2 * (int64_t)L->pw;
    if (ph < L->kh || pw < L->kw)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s with kernel %dx%d does not fit its "
                           "input %dx%dx%d (\"%s\")",
                           label, hesse_layer_kind_name(L->kind), L->kh, L->kw, c, h, w, cx->shown);
    int64_t oh64 = (ph - L->kh) / L->sh + 1, ow64 = (pw - L->kw) / L->sw + 1;
    if (oh64 > NN_MAX_VALUES || ow64 > NN_MAX_VALUES)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s gives an output of %lldx%lld, larger "
                           "than %lld values a side (\"%s\")",
                           label, hesse_layer_kind_name(L->kind), (long long)oh64, (long long)ow64,
                           NN_MAX_VALUES, cx->shown);
    *oh = (int)oh64;
    *ow = (int)ow64;
    return HESSE_OK;
}

void nn_describe_window(const hesse_layer *L, int sh, int sw, char *k, char *st, char *pd,
                        size_t cap) {
    if (L->kh == L->kw)
        snprintf(k, cap, "%d", L->kh);
    else
        snprintf(k, cap, "(%d,%d)", L->kh, L->kw);
    if (L->sh != sh || L->sw != sw)
        snprintf(st, cap, L->sh == L->sw ? ",stride=%d" : ",stride=(%d,%d)", L->sh, L->sw);
    if (L->ph != 0 || L->pw != 0)
        snprintf(pd, cap, L->ph == L->pw ? ",padding=%d" : ",padding=(%d,%d)", L->ph, L->pw);
}

static void params(const hesse_layer *L, int64_t *weights, int64_t *biases, int64_t *buffers) {
    (void)buffers;
    int64_t k = (int64_t)L->kh * L->kw;
    if (__builtin_mul_overflow((int64_t)L->out_c, (int64_t)L->in_c, weights) ||
        __builtin_mul_overflow(*weights, k, weights) || *weights > NN_MAX_PARAMS)
        *weights = NN_MAX_PARAMS + 1;
    *biases = L->has_bias ? L->out_c : 0;
}

static void describe(const hesse_layer *L, char *buf, size_t cap) {
    char k[48], st[48] = "", pd[48] = "";
    nn_describe_window(L, 1, 1, k, st, pd, sizeof k);
    snprintf(buf, cap, "conv2d(%d,%d,%s%s%s%s)", L->in_c, L->out_c, k, st, pd,
             L->has_bias ? "" : ",bias=False");
}

static void tensor_shape(const hesse_layer *L, int64_t shape[4], int *wdim, int *bdim) {
    (void)L;
    (void)shape; /* [out, in, kh, kw] */
    *wdim = 4;
    *bdim = 1;
}

static int64_t cols(const hesse_layer *L) {
    return nn_conv_k(L) * nn_conv_p(L);
}

static void scratch(const hesse_layer *L, int k, nn_scratch *s) {
    int64_t K = nn_conv_k(L), P = nn_conv_p(L);
    if (K * P * k > s->gcols) s->gcols = K * P * k;
    if ((int64_t)L->out_c * P * k > s->tmp) s->tmp = (int64_t)L->out_c * P * k;
    if ((int64_t)L->out_c * P > s->gyp) s->gyp = (int64_t)L->out_c * P;
}

/* Grosse & Martens (KFC): x runs over the im2col patches of every output position. */
static void factor_dims(const hesse_layer *L, hesse_layer_factors *f) {
    f->in = nn_conv_k(L);
    f->out = L->out_c;
    f->positions = nn_conv_p(L);
}

/* xx += cols cols^T, xs += the row sums of cols, over the chunk's patches [K, B*P] */
static void factor_xx(nn_work_f64 *w, int B, const hesse_layer_factors *f, double *xx, double *xs) {
    const int64_t BP = B * f->positions;
    const double *cols = w->st.cols[f->layer];
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)f->in, (int)BP, 1.0, cols, (int)BP,
                1.0, xx, (int)f->in);
    for (int64_t k = 0; k < f->in; k++) {
        double s = 0.0;
        for (int64_t i = 0; i < BP; i++) s += cols[k * BP + i];
        xs[k] += s;
    }
}

NN_DECLARE_PASSES(conv2d);
static const char *const aliases[] = {"conv", NULL};

const nn_layer_type nn_layer_conv2d = {
    .name = "conv2d",
    .aliases = aliases,
    .configure = configure,
    .shape = shape,
    .params = params,
    .describe = describe,
    .tensor_shape = tensor_shape,
    .init = nn_init_kaiming,
    .cols = cols,
    .scratch = scratch,
    .factor_dims = factor_dims,
    .factor_xx = factor_xx,
    NN_PASSES(conv2d),
};
