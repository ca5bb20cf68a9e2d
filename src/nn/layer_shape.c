/* Layers that pass their input on unchanged (flatten's [C, H, W] -> [C*H*W] is the same values
 * in the same order): flatten, dropout and dropout2d (evaluation mode: the identity), identity.
 * They have no storage of their own in any pass (NN_ALIAS); their passes are in
 * layer_shape.inc. */
#include "nn/layer-impl.h"

#include <stdio.h>

static int configure_flatten(const arch_ctx *cx, const arch_item *it, const char *label,
                             hesse_layer *L) {
    static const char *const names[] = {"start_dim", "end_dim"};
    const arch_arg *s[MAX_ARGS];
    int rc;
    (void)L;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 2, s)) != HESSE_OK) return rc;
    if ((s[0] && s[0]->a != 1) || (s[1] && s[1]->a != -1))
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s flatten: only start_dim=1, end_dim=-1 "
                           "(\"%s\")",
                           label, cx->shown);
    return HESSE_OK;
}

static int shape_flatten(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h, int w,
                         int *oc, int *oh, int *ow) {
    (void)cx, (void)label, (void)L;
    *oc = c * h * w; /* at most NN_MAX_VALUES: the input's size, checked by its maker */
    *oh = *ow = 1;
    return HESSE_OK;
}

static int configure_dropout(const arch_ctx *cx, const arch_item *it, const char *label,
                             hesse_layer *L) {
    static const char *const names[] = {"p", "inplace"};
    const arch_arg *s[MAX_ARGS];
    int rc;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 2, s)) != HESSE_OK) return rc;
    return nn_arch_number(cx, it, label, "p", s[0], 0, 1, 0.5, &L->p);
}

static void describe_dropout(const hesse_layer *L, char *buf, size_t cap) {
    char num[40];
    if (L->p == 0.5) {
        snprintf(buf, cap, "%s", hesse_layer_kind_name(L->kind));
    } else {
        nn_format_double(num, sizeof num, L->p);
        snprintf(buf, cap, "%s(p=%s)", hesse_layer_kind_name(L->kind), num);
    }
}

static int configure_identity(const arch_ctx *cx, const arch_item *it, const char *label,
                              hesse_layer *L) {
    const arch_arg *s[MAX_ARGS];
    (void)L;
    return nn_arch_bind(cx, it, label, 0, NULL, 0, s);
}

NN_DECLARE_PASSES(same);

const nn_layer_type nn_layer_flatten = {
    .name = "flatten",
    .flags = NN_ALIAS | NN_GRAD_SAME,
    .configure = configure_flatten,
    .shape = shape_flatten,
    NN_PASSES(same),
};

const nn_layer_type nn_layer_dropout = {
    .name = "dropout",
    .flags = NN_ALIAS | NN_GRAD_SAME | NN_EVAL_ONLY,
    .configure = configure_dropout,
    .describe = describe_dropout,
    NN_PASSES(same),
};

const nn_layer_type nn_layer_dropout2d = {
    .name = "dropout2d",
    .flags = NN_ALIAS | NN_GRAD_SAME | NN_EVAL_ONLY,
    .configure = configure_dropout,
    .describe = describe_dropout,
    NN_PASSES(same),
};

const nn_layer_type nn_layer_identity = {
    .name = "identity",
    .flags = NN_ALIAS | NN_GRAD_SAME,
    .configure = configure_identity,
    NN_PASSES(same),
};
