/* The markers of a residual block residual(main | shortcut) (nn.h): RESIDUAL (its output is
 * its input x), the main items, SHORTCUT (its output is x again), the shortcut items, and ADD
 * (main output + shortcut output); block[] holds the three indices. arch.c makes them; their
 * passes are in layer_residual.inc. */
#include "nn/layer-impl.h"

/* SHORTCUT's output is the block's input; ADD's depends on either branch. */
static int depends_shortcut(const hesse_engine *e, int l) {
    return e->dep[e->m->layers[l].block[0]];
}

static int depends_add(const hesse_engine *e, int l) {
    return e->dep[e->m->layers[l].block[1]] || e->dep[l];
}

NN_DECLARE_PASSES(residual);
NN_DECLARE_PASSES(shortcut);
NN_DECLARE_PASSES(add);

const nn_layer_type nn_layer_residual = {
    .name = "residual",
    .flags = NN_ALIAS | NN_BLOCK,
    NN_PASSES(residual),
};

const nn_layer_type nn_layer_shortcut = {
    .name = "shortcut",
    .flags = NN_ALIAS | NN_SHORTCUT | NN_MARKER,
    .depends = depends_shortcut,
    NN_PASSES(shortcut),
};

const nn_layer_type nn_layer_add = {
    .name = "add",
    .flags = NN_GRAD_SAME | NN_MARKER,
    .depends = depends_add,
    NN_PASSES(add),
};
