/* Sequence layers over (1, T, D), token-major (PyTorch's contiguous [B, T, D] per sample):
 *   embedding(num_embeddings V, embedding_dim D): token ids (1, T, 1) -> (1, T, D), the rows of
 *       `<m>.weight` [V, D] (nn.Embedding; init N(0, 1)); an id that is not an integer in
 *       [0, V) is refused before any pass (check_input);
 *   posembed(T, D): (1, T', D) -> (1, T', D), adds rows 0..T'-1 of `<m>.weight` [T, D] (an
 *       nn.Embedding(T, D) applied to arange(T') and added; init N(0, 1)); T' > T is an
 *       architecture error;
 *   tokens: (D, H, W) -> (1, H W, D), PyTorch's x.flatten(2).transpose(1, 2);
 *   meanpool: (1, T, D) -> (D, 1, 1), the mean over the tokens (x.mean(dim=1)).
 * All four are linear in their input (embedding piecewise constant). Their passes are in
 * layer_seq.inc. */
#include "nn/layer-impl.h"

#include <stdio.h>

/* embedding and posembed: (rows, dim) from num_embeddings, embedding_dim */
static int configure_table(const arch_ctx *cx, const arch_item *it, const char *label,
                           hesse_layer *L) {
    static const char *const names[] = {"num_embeddings", "embedding_dim"};
    const arch_arg *s[MAX_ARGS];
    int rc, unused;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 2, s)) != HESSE_OK) return rc;
    if ((rc = nn_arch_positive(cx, it, label, "num_embeddings", s[0], 0, &L->rows, &unused, -1)))
        return rc;
    if ((rc = nn_arch_positive(cx, it, label, "embedding_dim", s[1], 0, &L->dim, &unused, -1)))
        return rc;
    L->has_weight = 1;
    return HESSE_OK;
}

static void params_table(const hesse_layer *L, int64_t *weights, int64_t *biases,
                         int64_t *buffers) {
    (void)buffers;
    *weights = (int64_t)L->rows * L->dim; /* each below 2^31 */
    if (*weights > NN_MAX_PARAMS) *weights = NN_MAX_PARAMS + 1;
    *biases = 0;
}

static void describe_table(const hesse_layer *L, char *buf, size_t cap) {
    snprintf(buf, cap, "%s(%d,%d)", hesse_layer_kind_name(L->kind), L->rows, L->dim);
}

static void tensor_shape_table(const hesse_layer *L, int64_t shape[4], int *wdim, int *bdim) {
    shape[0] = L->rows;
    shape[1] = L->dim;
    *wdim = 2;
    *bdim = 1;
}

/* nn.Embedding's reset_parameters: normal_(weight) */
static void init_table(const hesse_layer *L, double *params, hesse_rng *rng) {
    double *p = params + L->weight_offset;
    for (int64_t j = 0; j < L->weight_count; j++) p[j] = hesse_rng_normal(rng);
}

static int shape_embedding(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                           int w, int *oc, int *oh, int *ow) {
    (void)oc, (void)oh;
    if (c != 1 || w != 1)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s embedding(%d,%d) takes token ids of shape "
                           "1xTx1, not %dx%dx%d (\"%s\")",
                           label, L->rows, L->dim, c, h, w, cx->shown);
    *ow = L->dim;
    return HESSE_OK;
}

/* Every id an integer in [0, V). */
static int check_embedding(const hesse_layer *L, const hesse_samples *s) {
    const int64_t T = L->in_h;
    for (int64_t i = 0; i < s->n; i++)
        for (int64_t t = 0; t < T; t++) {
            const double v = s->x[i * T + t];
            if (v >= 0 && v < L->rows && v == (double)(int64_t)v) continue;
            return hesse_error(HESSE_EINPUT,
                               "sample %lld position %lld has token id %.17g, but layer %s "
                               "embedding(%d,%d) takes integers in [0, %d)",
                               (long long)(s->source ? s->source[i] : i), (long long)t, v, L->name,
                               L->rows, L->dim, L->rows);
        }
    return HESSE_OK;
}

static int shape_posembed(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                          int w, int *oc, int *oh, int *ow) {
    (void)oc, (void)oh, (void)ow;
    if (c != 1 || w != L->dim)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s posembed(%d,%d) takes a sequence of shape "
                           "1xTx%d, not %dx%dx%d (\"%s\")",
                           label, L->rows, L->dim, L->dim, c, h, w, cx->shown);
    if (h > L->rows)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s posembed(%d,%d) gets %d positions: the context "
                           "is longer than posembed's %d (\"%s\")",
                           label, L->rows, L->dim, h, L->rows, cx->shown);
    return HESSE_OK;
}

static int configure_plain(const arch_ctx *cx, const arch_item *it, const char *label,
                           hesse_layer *L) {
    const arch_arg *s[MAX_ARGS];
    (void)L;
    return nn_arch_bind(cx, it, label, 0, NULL, 0, s);
}

static int shape_tokens(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h, int w,
                        int *oc, int *oh, int *ow) {
    (void)cx, (void)label, (void)L;
    *oc = 1;
    *oh = h * w; /* at most NN_MAX_VALUES: the input's size, checked by its maker */
    *ow = c;
    return HESSE_OK;
}

static int shape_meanpool(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                          int w, int *oc, int *oh, int *ow) {
    (void)L;
    if (c != 1)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s meanpool takes a sequence of shape 1xTxD, "
                           "not %dx%dx%d (\"%s\")",
                           label, c, h, w, cx->shown);
    *oc = w;
    *oh = *ow = 1;
    return HESSE_OK;
}

NN_DECLARE_PASSES(embedding);
NN_DECLARE_PASSES(posembed);
NN_DECLARE_PASSES(tokens);
NN_DECLARE_PASSES(meanpool);

const nn_layer_type nn_layer_embedding = {
    .name = "embedding",
    .configure = configure_table,
    .shape = shape_embedding,
    .params = params_table,
    .describe = describe_table,
    .tensor_shape = tensor_shape_table,
    .init = init_table,
    .check_input = check_embedding,
    NN_PASSES(embedding),
};

const nn_layer_type nn_layer_posembed = {
    .name = "posembed",
    .flags = NN_GRAD_SAME,
    .configure = configure_table,
    .shape = shape_posembed,
    .params = params_table,
    .describe = describe_table,
    .tensor_shape = tensor_shape_table,
    .init = init_table,
    NN_PASSES(posembed),
};

const nn_layer_type nn_layer_tokens = {
    .name = "tokens",
    .configure = configure_plain,
    .shape = shape_tokens,
    NN_PASSES(tokens),
};

const nn_layer_type nn_layer_meanpool = {
    .name = "meanpool",
    .configure = configure_plain,
    .shape = shape_meanpool,
    NN_PASSES(meanpool),
};
