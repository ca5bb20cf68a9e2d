/* Elementwise activations: relu, tanh, sigmoid, gelu (approximate='none'). Their passes and
 * kernels are in layer_act.inc. A ReLU followed by a max pool runs as one fused step
 * (nn_layer_relu_maxpool, layer_pool.c). */
#include "nn/layer-impl.h"

#include <string.h>

/* relu, tanh, sigmoid: inplace=... only */
static int configure_inplace(const arch_ctx *cx, const arch_item *it, const char *label,
                             hesse_layer *L) {
    static const char *const names[] = {"inplace"};
    const arch_arg *s[MAX_ARGS];
    (void)L;
    return nn_arch_bind(cx, it, label, 0, names, 1, s);
}

static int configure_gelu(const arch_ctx *cx, const arch_item *it, const char *label,
                          hesse_layer *L) {
    static const char *const names[] = {"approximate"};
    const arch_arg *s[MAX_ARGS];
    int rc;
    (void)L;
    if ((rc = nn_arch_bind(cx, it, label, 0, names, 1, s)) != HESSE_OK) return rc;
    if (s[0] && strcmp(s[0]->word, "none") != 0)
        return hesse_error(HESSE_EINPUT,
                           "architecture: layer %s gelu: only approximate='none' (the exact "
                           "erf form) is supported (\"%s\")",
                           label, cx->shown);
    return HESSE_OK;
}

/* ReLU then max pooling: one step (see layer_pool.c). */
static const nn_layer_type *fuse_relu(const hesse_layer *next) {
    return next->kind == HESSE_LAYER_MAXPOOL2D ? &nn_layer_relu_maxpool : NULL;
}

NN_DECLARE_PASSES(relu);
NN_DECLARE_PASSES(tanh);
NN_DECLARE_PASSES(sigmoid);
NN_DECLARE_PASSES(gelu);

const nn_layer_type nn_layer_relu = {
    .name = "relu",
    .configure = configure_inplace,
    .fuse = fuse_relu,
    NN_PASSES(relu),
};

/* tanh, sigmoid and gelu are curved: a layer before them has an output Hessian with more
 * than its Gauss-Newton part. */
const nn_layer_type nn_layer_tanh = {
    .name = "tanh",
    .flags = NN_CURVED,
    .configure = configure_inplace,
    NN_PASSES(tanh),
};

const nn_layer_type nn_layer_sigmoid = {
    .name = "sigmoid",
    .flags = NN_CURVED,
    .configure = configure_inplace,
    NN_PASSES(sigmoid),
};

const nn_layer_type nn_layer_gelu = {
    .name = "gelu",
    .flags = NN_CURVED,
    .configure = configure_gelu,
    NN_PASSES(gelu),
};
