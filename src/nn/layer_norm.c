/* Normalisation: batchnorm2d and batchnorm1d(num_features, eps, momentum, affine,
 * track_running_stats) in evaluation mode over their running statistics (buffers), and
 * layernorm(normalized_shape, eps, elementwise_affine, bias). Their passes are in
 * layer_norm.inc, the kernels in kernels_norm.inc. */
#include "nn/layer-impl.h"

#include <math.h>
#include <stdio.h>

static int configure_layernorm(const arch_ctx *cx, const arch_item *it, const char *label,
                               hesse_layer *L) {
    const arch_arg *s[MAX_ARGS];
    int rc, flag = 1;
    /* normalized_shape: the leading positional integers, or one tuple / keyword */
    int first = 0;
    while (first < it->nargs && first < 3 && !it->args[first].key[0] && it->args[first].n == 1 &&
           !it->args[first].is_bool)
        L->norm_shape[L->norm_ndim++] = it->args[first++].a;
    static const char *const names[] = {"normalized_shape", "eps", "elementwise_affine", "bias"};
    /* with the shape given positionally, the slots start at eps */
    if ((rc = nn_arch_bind(cx, it, label, first, first ? names + 1 : names, first ? 3 : 4, s)))
        return rc;
    const arch_arg *eps = s[first ? 0 : 1], *affine = s[first ? 1 : 2], *bias = s[first ? 2 : 3];
    if (!first) {
        const arch_arg *shape = s[0];
        if (!shape)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s layernorm needs normalized_shape (\"%s\")",
                               label, cx->shown);
        if (shape->n < 1 || shape->is_bool)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s layernorm: normalized_shape must be "
                               "1 to 3 positive integers (\"%s\")",
                               label, cx->shown);
        L->norm_ndim = shape->n;
        for (int i = 0; i < shape->n; i++) L->norm_shape[i] = shape->v[i];
    }
    for (int i = 0; i < L->norm_ndim; i++)
        if (L->norm_shape[i] < 1)
            return hesse_error(HESSE_EINPUT,
                               "architecture: layer %s layernorm: normalized_shape must be "
                               "positive (\"%s\")",
                               label, cx->shown);
    if ((rc = nn_arch_number(cx, it, label, "eps", eps, 0, 1e3, 1e-5, &L->eps))) return rc;
    if ((rc = nn_arch_bool(cx, it, label, "elementwise_affine", affine, 1, &L->has_weight)))
        return rc;
    if ((rc = nn_arch_bool(cx, it, label, "bias", bias, 1, &flag))) return rc;
    L->has_bias = L->has_weight && flag;
    return HESSE_OK;
}

static int configure_batchnorm(const arch_ctx *cx, const arch_item *it, const char *label,
                               hesse_layer *L) {
    static const char *const names[] = {"num_features", "eps", "momentum", "affine",
                                        "track_running_stats"};
    const arch_arg *s[MAX_ARGS];
    int rc, unused, flag = 1;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 5, s)) != HESSE_OK) return rc;
    if ((rc = nn_arch_positive(cx, it, label, "num_features", s[0], 0, &L->in_c, &unused, -1)))
        return rc;
    if (s[0]->n != 1)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s: num_features must be one "
                           "integer (\"%s\")",
                           label, it->name, cx->shown);
    L->out_c = L->in_c;
    if ((rc = nn_arch_number(cx, it, label, "eps", s[1], 0, 1e3, 1e-5, &L->eps))) return rc;
    if (s[2] && s[2]->is_none)
        L->momentum = NAN; /* a cumulative average in training; the same in evaluation */
    else if ((rc = nn_arch_number(cx, it, label, "momentum", s[2], 0, 1, 0.1, &L->momentum)))
        return rc;
    if ((rc = nn_arch_bool(cx, it, label, "affine", s[3], 1, &L->has_weight))) return rc;
    L->has_bias = L->has_weight;
    if ((rc = nn_arch_bool(cx, it, label, "track_running_stats", s[4], 1, &flag))) return rc;
    if (!flag)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s: track_running_stats=False normalises with "
                           "each batch's own statistics even in evaluation mode; hesse supports "
                           "batch norm in evaluation mode with running statistics only (\"%s\")",
                           label, it->name, cx->shown);
    return HESSE_OK;
}

static int shape_batchnorm(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                           int w, int *oc, int *oh, int *ow) {
    (void)oc, (void)oh, (void)ow;
    const int flat_only = L->kind == HESSE_LAYER_BATCHNORM1D;
    if (flat_only && (h != 1 || w != 1))
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s batchnorm1d(%d) needs flat input but gets "
                           "%dx%dx%d (use batchnorm2d for channels) (\"%s\")",
                           label, L->in_c, c, h, w, cx->shown);
    if (c != L->in_c)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s(%d) expects %d %s, the input there is "
                           "%dx%dx%d (\"%s\")",
                           label, hesse_layer_kind_name(L->kind), L->in_c, L->in_c,
                           flat_only ? "features" : "channels", c, h, w, cx->shown);
    return HESSE_OK;
}

static int shape_layernorm(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                           int w, int *oc, int *oh, int *ow) {
    (void)oc, (void)oh, (void)ow;
    const int dims[3] = {c, h, w};
    const int flat = h == 1 && w == 1;
    int ok = 1;
    if (flat) /* a [N, c] tensor in PyTorch */
        ok = L->norm_ndim == 1 && L->norm_shape[0] == c;
    else /* [N, c, h, w]: a suffix of (c, h, w) */
        for (int i = 0; i < L->norm_ndim; i++)
            ok = ok && L->norm_shape[i] == dims[3 - L->norm_ndim + i];
    if (!ok) {
        char want[48];
        snprintf(want, sizeof want, flat ? "(%d)" : "a suffix of (%d,%d,%d)", c, h, w);
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s layernorm: normalized_shape must be %s for its "
                           "input %dx%dx%d (\"%s\")",
                           label, want, c, h, w, cx->shown);
    }
    L->group = 1;
    for (int i = 0; i < L->norm_ndim; i++) L->group *= L->norm_shape[i];
    return HESSE_OK;
}

static void params_batchnorm(const hesse_layer *L, int64_t *weights, int64_t *biases,
                             int64_t *buffers) {
    *weights = L->has_weight ? L->in_c : 0;
    *biases = L->has_bias ? L->in_c : 0;
    *buffers += 2 * (int64_t)L->in_c + 1;
}

static void params_layernorm(const hesse_layer *L, int64_t *weights, int64_t *biases,
                             int64_t *buffers) {
    (void)buffers;
    *weights = L->has_weight ? L->group : 0;
    *biases = L->has_bias ? L->group : 0;
}

static void describe_batchnorm(const hesse_layer *L, char *buf, size_t cap) {
    char num[40];
    size_t at = (size_t)snprintf(buf, cap, "%s(%d", hesse_layer_kind_name(L->kind), L->in_c);
    if (L->eps != 1e-5 && at < cap) {
        nn_format_double(num, sizeof num, L->eps);
        at += (size_t)snprintf(buf + at, cap - at, ",eps=%s", num);
    }
    if (isnan(L->momentum) && at < cap)
        at += (size_t)snprintf(buf + at, cap - at, ",momentum=None");
    else if (L->momentum != 0.1 && at < cap) {
        nn_format_double(num, sizeof num, L->momentum);
        at += (size_t)snprintf(buf + at, cap - at, ",momentum=%s", num);
    }
    if (!L->has_weight && at < cap) at += (size_t)snprintf(buf + at, cap - at, ",affine=False");
    if (at < cap) snprintf(buf + at, cap - at, ")");
}

static void describe_layernorm(const hesse_layer *L, char *buf, size_t cap) {
    char num[40];
    size_t at = (size_t)snprintf(buf, cap, "layernorm(%d", L->norm_shape[0]);
    for (int i = 1; i < L->norm_ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, ",%d", L->norm_shape[i]);
    if (L->eps != 1e-5 && at < cap) {
        nn_format_double(num, sizeof num, L->eps);
        at += (size_t)snprintf(buf + at, cap - at, ",eps=%s", num);
    }
    if (!L->has_weight && at < cap)
        at += (size_t)snprintf(buf + at, cap - at, ",elementwise_affine=False");
    else if (!L->has_bias && at < cap)
        at += (size_t)snprintf(buf + at, cap - at, ",bias=False");
    if (at < cap) snprintf(buf + at, cap - at, ")");
}

static void tensor_shape_batchnorm(const hesse_layer *L, int64_t shape[4], int *wdim, int *bdim) {
    shape[0] = L->in_c;
    *wdim = *bdim = 1;
}

/* weight and bias of normalized_shape */
static void tensor_shape_layernorm(const hesse_layer *L, int64_t shape[4], int *wdim, int *bdim) {
    for (int d = 0; d < L->norm_ndim; d++) shape[d] = L->norm_shape[d];
    *wdim = *bdim = L->norm_ndim;
}

/* running_mean [C], running_var [C], num_batches_tracked (a scalar stored as I64) */
static int64_t buffers_batchnorm(hesse_tensor_info *t, const hesse_layer *L, int layer,
                                 int64_t at) {
    int64_t c[1] = {L->in_c};
    nn_set_tensor(&t[0], L, layer, "running_mean", 1, c, at);
    nn_set_tensor(&t[1], L, layer, "running_var", 1, c, at + L->in_c);
    nn_set_tensor(&t[2], L, layer, "num_batches_tracked", 0, NULL, at + 2 * (int64_t)L->in_c);
    t[2].integer = 1;
    return 2 * (int64_t)L->in_c + 1;
}

/* PyTorch's initial buffers: running_mean 0, running_var 1, num_batches_tracked 0. */
static void reset_batchnorm(const hesse_layer *L, double *b) {
    for (int c = 0; c < L->in_c; c++) {
        b[c] = 0.0;
        b[L->in_c + c] = 1.0;
    }
    b[2 * L->in_c] = 0.0;
}

/* weight 1, bias 0 (reset_parameters of BatchNorm and LayerNorm) */
static void init_affine(const hesse_layer *L, double *params, hesse_rng *rng) {
    (void)rng;
    for (int64_t j = 0; j < L->weight_count; j++) params[L->weight_offset + j] = 1.0;
    for (int64_t j = 0; j < L->bias_count; j++) params[L->bias_offset + j] = 0.0;
}

NN_DECLARE_PASSES(batchnorm);
NN_DECLARE_PASSES(layernorm);

/* Batch norm over channels (2d) or flat features (1d): one row but for the name. */
#define BATCHNORM_ROW(nm)                                                                          \
    {                                                                                              \
        .name = nm, .flags = NN_EVAL_ONLY, .configure = configure_batchnorm,                       \
        .shape = shape_batchnorm, .params = params_batchnorm, .describe = describe_batchnorm,      \
        .tensor_shape = tensor_shape_batchnorm, .nbuffers = 3, .buffers = buffers_batchnorm,       \
        .reset = reset_batchnorm, .init = init_affine, NN_PASSES(batchnorm),                       \
    }

const nn_layer_type nn_layer_batchnorm2d = BATCHNORM_ROW("batchnorm2d");
const nn_layer_type nn_layer_batchnorm1d = BATCHNORM_ROW("batchnorm1d");

/* Layer norm is not linear in its input: a layer before it has an output Hessian with more
 * than its Gauss-Newton part. */
const nn_layer_type nn_layer_layernorm = {
    .name = "layernorm",
    .flags = NN_CURVED,
    .configure = configure_layernorm,
    .shape = shape_layernorm,
    .params = params_layernorm,
    .describe = describe_layernorm,
    .tensor_shape = tensor_shape_layernorm,
    .init = init_affine,
    NN_PASSES(layernorm),
};
