/* The layer table: which row (layer-impl.h) implements each kind of hesse_layer_kind, and the
 * lookups by name. A new kind adds its row here (docs/adding-a-layer.md). */
#include "nn/layer-impl.h"

#include <string.h>

static const nn_layer_type *const table[NN_NUM_KINDS] = {
    [HESSE_LAYER_LINEAR] = &nn_layer_linear,
    [HESSE_LAYER_CONV2D] = &nn_layer_conv2d,
    [HESSE_LAYER_MAXPOOL2D] = &nn_layer_maxpool2d,
    [HESSE_LAYER_AVGPOOL2D] = &nn_layer_avgpool2d,
    [HESSE_LAYER_FLATTEN] = &nn_layer_flatten,
    [HESSE_LAYER_RELU] = &nn_layer_relu,
    [HESSE_LAYER_TANH] = &nn_layer_tanh,
    [HESSE_LAYER_SIGMOID] = &nn_layer_sigmoid,
    [HESSE_LAYER_GELU] = &nn_layer_gelu,
    [HESSE_LAYER_BATCHNORM2D] = &nn_layer_batchnorm2d,
    [HESSE_LAYER_BATCHNORM1D] = &nn_layer_batchnorm1d,
    [HESSE_LAYER_LAYERNORM] = &nn_layer_layernorm,
    [HESSE_LAYER_ADAPTIVEAVGPOOL2D] = &nn_layer_adaptiveavgpool2d,
    [HESSE_LAYER_DROPOUT] = &nn_layer_dropout,
    [HESSE_LAYER_DROPOUT2D] = &nn_layer_dropout2d,
    [HESSE_LAYER_IDENTITY] = &nn_layer_identity,
    [HESSE_LAYER_EMBEDDING] = &nn_layer_embedding,
    [HESSE_LAYER_POSEMBED] = &nn_layer_posembed,
    [HESSE_LAYER_TOKENS] = &nn_layer_tokens,
    [HESSE_LAYER_MEANPOOL] = &nn_layer_meanpool,
    [HESSE_LAYER_MULTIHEADATTENTION] = &nn_layer_multiheadattention,
    [HESSE_LAYER_RESIDUAL] = &nn_layer_residual,
    [HESSE_LAYER_SHORTCUT] = &nn_layer_shortcut,
    [HESSE_LAYER_ADD] = &nn_layer_add,
};

const nn_layer_type *nn_layer_type_of(hesse_layer_kind kind) {
    return (int)kind >= 0 && (int)kind < NN_NUM_KINDS ? table[kind] : NULL;
}

const char *hesse_layer_kind_name(hesse_layer_kind kind) {
    const nn_layer_type *t = nn_layer_type_of(kind);
    return t ? t->name : "?";
}

int nn_layer_lookup(const char *name, hesse_layer_kind *kind) {
    for (int k = 0; k < NN_NUM_KINDS; k++) {
        const nn_layer_type *t = table[k];
        int match = !(t->flags & NN_MARKER) && strcmp(name, t->name) == 0;
        for (int a = 0; !match && t->aliases && t->aliases[a]; a++)
            match = strcmp(name, t->aliases[a]) == 0;
        if (match) {
            *kind = (hesse_layer_kind)k;
            return 1;
        }
    }
    return 0;
}
