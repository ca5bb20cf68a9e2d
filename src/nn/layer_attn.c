/* multiheadattention(embed_dim, num_heads, causal=False, bias=True): self-attention over a
 * sequence (1, T, D), PyTorch's nn.MultiheadAttention(D, heads, bias=bias, batch_first=True)
 * called as attn(x, x, x, need_weights=False) (with causal=True: attn_mask the upper triangle
 * masked, is_causal=True). Its passes are in layer_attn.inc, which derives them.
 *
 * Parameters, in this order: in_proj_weight [3D, D] (the rows of W_q, W_k, W_v), in_proj_bias
 * [3D], out_proj.weight [D, D], out_proj.bias [D] (nn_attn_out_offset in layer-impl.h). */
#include "nn/layer-impl.h"

#include <math.h>
#include <stdio.h>

static int configure(const arch_ctx *cx, const arch_item *it, const char *label, hesse_layer *L) {
    static const char *const names[] = {"embed_dim", "num_heads", "causal", "bias"};
    const arch_arg *s[MAX_ARGS];
    int rc, unused;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 4, s)) != HESSE_OK) return rc;
    if ((rc = nn_arch_positive(cx, it, label, "embed_dim", s[0], 0, &L->in_w, &unused, -1)))
        return rc;
    if ((rc = nn_arch_positive(cx, it, label, "num_heads", s[1], 0, &L->heads, &unused, -1)))
        return rc;
    if ((rc = nn_arch_bool(cx, it, label, "causal", s[2], 0, &L->causal))) return rc;
    if ((rc = nn_arch_bool(cx, it, label, "bias", s[3], 1, &L->has_bias))) return rc;
    L->has_weight = 1;
    if (L->in_w % L->heads)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s multiheadattention(%d,%d): num_heads %d does "
                           "not divide embed_dim %d (\"%s\")",
                           label, L->in_w, L->heads, L->heads, L->in_w, cx->shown);
    return HESSE_OK;
}

/* The input is a sequence (1, T, D): a [T, D] tensor per sample, D = embed_dim. The scores
 * (heads x T x T per sample) must stay within the values a kernel indexes. */
static int shape(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h, int w,
                 int *oc, int *oh, int *ow) {
    (void)oc, (void)oh, (void)ow;
    if (c != 1 || w != L->in_w)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s multiheadattention(%d,%d) needs a sequence of "
                           "width %d (1xTx%d) but gets %dx%dx%d (\"%s\")",
                           label, L->in_w, L->heads, L->in_w, L->in_w, c, h, w, cx->shown);
    if ((int64_t)L->heads * h * h > NN_MAX_VALUES || 3 * (int64_t)h * w > NN_MAX_VALUES)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s multiheadattention(%d,%d): %d heads of %dx%d "
                           "attention scores per sample are more than %lld values (\"%s\")",
                           label, L->in_w, L->heads, L->heads, h, h, NN_MAX_VALUES, cx->shown);
    return HESSE_OK;
}

static void params(const hesse_layer *L, int64_t *weights, int64_t *biases, int64_t *buffers) {
    (void)buffers;
    const int64_t D = L->in_w;
    *weights = D > (1 << 24) ? NN_MAX_PARAMS + 1 : 4 * D * D; /* in_proj and out_proj */
    *biases = L->has_bias ? 4 * D : 0;
}

static void describe(const hesse_layer *L, char *buf, size_t cap) {
    snprintf(buf, cap, "multiheadattention(%d,%d%s%s)", L->in_w, L->heads,
             L->causal ? ",causal=True" : "", L->has_bias ? "" : ",bias=False");
}

/* in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias (no biases with bias=False). */
static int tensors(hesse_tensor_info *t, hesse_layer *L, int layer, int64_t at) {
    const int64_t D = L->in_w, w3[2] = {3 * D, D}, b3[1] = {3 * D}, wo[2] = {D, D}, bo[1] = {D};
    const int nb = L->has_bias;
    if (!t) return nb ? 4 : 2;
    L->weight_offset = at;
    L->bias_offset = at + 3 * D * D; /* in_proj_bias (bias=True) */
    nn_set_tensor(t++, L, layer, "in_proj_weight", 2, w3, at);
    if (nb) nn_set_tensor(t++, L, layer, "in_proj_bias", 1, b3, at + 3 * D * D);
    at += nn_attn_out_offset(L);
    nn_set_tensor(t++, L, layer, "out_proj.weight", 2, wo, at);
    if (nb) nn_set_tensor(t, L, layer, "out_proj.bias", 1, bo, at + D * D);
    return nb ? 4 : 2;
}

/* PyTorch's _reset_parameters: xavier_uniform_ on in_proj_weight (fan_in D, fan_out 3D: bound
 * sqrt(6 / 4D)), both biases zero; out_proj.weight keeps nn.Linear's kaiming-uniform (bound
 * 1 / sqrt(D)). Drawn in parameter order from hesse's generator. */
static void init(const hesse_layer *L, double *params, hesse_rng *rng) {
    const int64_t D = L->in_w;
    double *p = params + L->weight_offset;
    const double bin = sqrt(6.0 / (4.0 * (double)D)), bout = 1.0 / sqrt((double)D);
    for (int64_t j = 0; j < 3 * D * D; j++) p[j] = bin * (2.0 * hesse_rng_uniform(rng) - 1.0);
    for (int64_t j = 3 * D * D; j < nn_attn_out_offset(L); j++) p[j] = 0.0;
    p += nn_attn_out_offset(L);
    for (int64_t j = 0; j < D * D; j++) p[j] = bout * (2.0 * hesse_rng_uniform(rng) - 1.0);
    for (int64_t j = 0; L->has_bias && j < D; j++) p[D * D + j] = 0.0;
}

/* Kept per sample (layer_attn.inc lays them out): P, gP [T, 3D], A [heads, T, T], ctx, gctx
 * [T, D] in the chunk state; RP [T, 3D], RA [heads, T, T], Rctx [T, D] per vector from the
 * R-forward to the R-backward. */
static void keep(const hesse_layer *L, int64_t *state, int64_t *rstate) {
    const int64_t T = L->in_h, D = L->in_w, HTT = (int64_t)L->heads * T * T;
    *state = 8 * T * D + HTT;
    *rstate = 4 * T * D + HTT;
}

/* The R-backward's scratch per sample: RgP [T, 3D], Rgctx [T, D], two [T, T] matrices. */
static void scratch(const hesse_layer *L, int k, nn_scratch *s) {
    (void)k;
    const int64_t T = L->in_h, D = L->in_w, need = 4 * T * D + 2 * T * T;
    if (need > s->tmp) s->tmp = need;
}

NN_DECLARE_PASSES(attn);

/* Softmax attention is not piecewise linear in its input. */
const nn_layer_type nn_layer_multiheadattention = {
    .name = "multiheadattention",
    .flags = NN_CURVED,
    .configure = configure,
    .shape = shape,
    .params = params,
    .describe = describe,
    .tensors = tensors,
    .init = init,
    .keep = keep,
    .scratch = scratch,
    NN_PASSES(attn),
};
