/* Pooling: maxpool2d and avgpool2d(kernel_size, stride=kernel_size, padding=0) and
 * adaptiveavgpool2d(output_size), with PyTorch's windows; and the fused step of a ReLU followed
 * by a max pool, which the engine runs in place of the two (layer_act.c chooses it). Their
 * passes are in layer_pool.inc. */
#include "nn/layer-impl.h"

#include <stdio.h>

static int configure_window(const arch_ctx *cx, const arch_item *it, const char *label,
                            hesse_layer *L) {
    static const char *const names[] = {"kernel_size", "stride", "padding", "ceil_mode",
                                        "count_include_pad"};
    const arch_arg *s[MAX_ARGS];
    int rc;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 5, s)) != HESSE_OK) return rc;
    if ((rc = nn_arch_positive(cx, it, label, "kernel_size", s[0], 0, &L->kh, &L->kw, -1)))
        return rc;
    if ((rc = nn_arch_positive(cx, it, label, "stride", s[1], 0, &L->sh, &L->sw, 0))) return rc;
    if (!s[1]) {
        L->sh = L->kh; /* PyTorch: stride defaults to kernel_size */
        L->sw = L->kw;
    }
    if ((rc = nn_arch_positive(cx, it, label, "padding", s[2], 1, &L->ph, &L->pw, 0))) return rc;
    if (L->ph * 2 > L->kh || L->pw * 2 > L->kw)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s: padding must be at most half the "
                           "kernel size (\"%s\")",
                           label, it->name, cx->shown);
    if ((s[3] && s[3]->a != 0) || (s[4] && s[4]->a != 1))
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s %s: only ceil_mode=False and "
                           "count_include_pad=True are supported (\"%s\")",
                           label, it->name, cx->shown);
    return HESSE_OK;
}

static int shape_window(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h, int w,
                        int *oc, int *oh, int *ow) {
    L->in_c = L->out_c = c;
    *oc = c;
    return nn_window_shape(cx, label, L, c, h, w, oh, ow);
}

static void describe_window(const hesse_layer *L, char *buf, size_t cap) {
    char k[48], st[48] = "", pd[48] = "";
    nn_describe_window(L, L->kh, L->kw, k, st, pd, sizeof k);
    snprintf(buf, cap, "%s(%s%s%s)", hesse_layer_kind_name(L->kind), k, st, pd);
}

static int configure_adaptive(const arch_ctx *cx, const arch_item *it, const char *label,
                              hesse_layer *L) {
    static const char *const names[] = {"output_size"};
    const arch_arg *s[MAX_ARGS];
    int rc;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 1, s)) != HESSE_OK) return rc;
    return nn_arch_positive(cx, it, label, "output_size", s[0], 0, &L->out_h, &L->out_w, -1);
}

static int shape_adaptive(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h,
                          int w, int *oc, int *oh, int *ow) {
    (void)cx, (void)label, (void)c, (void)h, (void)w, (void)oc;
    *oh = L->out_h;
    *ow = L->out_w;
    return HESSE_OK;
}

static void describe_adaptive(const hesse_layer *L, char *buf, size_t cap) {
    if (L->out_h == L->out_w)
        snprintf(buf, cap, "adaptiveavgpool2d(%d)", L->out_h);
    else
        snprintf(buf, cap, "adaptiveavgpool2d((%d,%d))", L->out_h, L->out_w);
}

NN_DECLARE_PASSES(maxpool2d);
NN_DECLARE_PASSES(avgpool2d);
NN_DECLARE_PASSES(adaptiveavgpool2d);
NN_DECLARE_PASSES(relu_maxpool);

static const char *const maxpool_aliases[] = {"maxpool", NULL};
static const char *const avgpool_aliases[] = {"avgpool", NULL};

const nn_layer_type nn_layer_maxpool2d = {
    .name = "maxpool2d",
    .aliases = maxpool_aliases,
    .flags = NN_ARGMAX,
    .configure = configure_window,
    .shape = shape_window,
    .describe = describe_window,
    NN_PASSES(maxpool2d),
};

const nn_layer_type nn_layer_avgpool2d = {
    .name = "avgpool2d",
    .aliases = avgpool_aliases,
    .configure = configure_window,
    .shape = shape_window,
    .describe = describe_window,
    NN_PASSES(avgpool2d),
};

const nn_layer_type nn_layer_adaptiveavgpool2d = {
    .name = "adaptiveavgpool2d",
    .configure = configure_adaptive,
    .shape = shape_adaptive,
    .describe = describe_adaptive,
    NN_PASSES(adaptiveavgpool2d),
};

/* ReLU then max pooling as one step (layers l, l + 1): max pooling commutes with ReLU, so the
 * pool runs on the ReLU's input and the ReLU's own output is never formed (layer_pool.inc). */
const nn_layer_type nn_layer_relu_maxpool = {
    .name = "relu+maxpool2d",
    .flags = NN_MARKER,
    NN_PASSES(relu_maxpool),
};
