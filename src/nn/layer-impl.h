/* The layer table: one row (nn_layer_type) per layer kind, filled by the file of its kind or
 * family, and read by every part of nn/ that used to switch on the kind.
 *
 * Which file owns what (docs/adding-a-layer.md has the recipe for a new kind):
 *   layers.c            the table: kind -> row, and the lookups by name
 *   layer_linear.c      linear                      (+ layer_linear.inc: its passes)
 *   layer_conv2d.c      conv2d                      (+ layer_conv2d.inc)
 *   layer_pool.c        maxpool2d, avgpool2d, adaptiveavgpool2d, and the fused ReLU -> max
 *                       pool step                   (+ layer_pool.inc)
 *   layer_norm.c        batchnorm2d, batchnorm1d, layernorm (+ layer_norm.inc)
 *   layer_act.c         relu, tanh, sigmoid, gelu   (+ layer_act.inc)
 *   layer_shape.c       flatten, dropout, dropout2d, identity (+ layer_shape.inc)
 *   layer_residual.c    the residual block's markers residual, shortcut, add
 *                       (+ layer_residual.inc)
 *   layer_seq.c         embedding, posembed, tokens, meanpool (+ layer_seq.inc)
 *   layer_attn.c        multiheadattention          (+ layer_attn.inc)
 *   arch.c, model.c     parsing, shapes, tensors and initialisation through the rows
 *   passes.inc          the passes as loops over the engine's steps, calling the rows
 *   kernels*.inc        the numerical kernels the rows call (GEMM wrappers, im2col, pooling,
 *                       normalisation)
 * The layer_*.inc files hold a kind's pass functions in the precision of real.h; passes.inc
 * includes them, and passes_f64.c / passes_f32.c compile them once per precision, so that a
 * pass function `SUF(linear_forward)` is linear_forward_f64 and linear_forward_f32 in the
 * objects (tags: .ctags.d/hesse.ctags indexes the SUF(...) definitions under both names). */
#ifndef HESSE_LAYER_IMPL_H
#define HESSE_LAYER_IMPL_H

#include "nn/arch-impl.h"
#include "nn/engine-impl.h"

/* Row flags. */
enum {
    NN_ALIAS = 1 << 0,     /* output is the input (or, SHORTCUT, the block's input): no storage */
    NN_GRAD_SAME = 1 << 1, /* backward hands its output gradient on unchanged */
    NN_SHORTCUT = 1 << 2,  /* the shortcut marker: output and gradient from its block */
    NN_BLOCK = 1 << 3,     /* opens a residual block: the engine keeps the branches' R-gradients */
    NN_ARGMAX = 1 << 4,    /* keeps an arg-max per output value in the chunk state (max pool) */
    NN_EVAL_ONLY = 1 << 5, /* training mode would differ from hesse's evaluation mode */
    NN_CURVED = 1 << 6,    /* not piecewise linear in its input: a layer before it has an output
                              Hessian with more than its Gauss-Newton part */
    NN_MARKER = 1 << 7,    /* made by residual(...), never written by name */
    NN_TOKENWISE = 1 << 8  /* Kronecker factors: the output is [positions, out] per sample
                              (linear on a sequence), not conv's [out, positions] */
};

typedef struct nn_layer_type {
    const char *name;           /* lower-case, as in architecture strings */
    const char *const *aliases; /* other accepted lower-case names, NULL-terminated; or NULL */
    unsigned flags;
    /* Architecture strings (arch.c). configure: the item's arguments into L's settings. shape:
     * the output shape (*oc, *oh, *ow preset to the input's c, h, w), or an error naming the
     * mismatch; NULL: shape unchanged. params: parameter and buffer counts; NULL: none.
     * describe: the canonical text; NULL: the name. */
    int (*configure)(const arch_ctx *cx, const arch_item *it, const char *label, hesse_layer *L);
    int (*shape)(const arch_ctx *cx, const char *label, hesse_layer *L, int c, int h, int w,
                 int *oc, int *oh, int *ow);
    void (*params)(const hesse_layer *L, int64_t *weights, int64_t *biases, int64_t *buffers);
    void (*describe)(const hesse_layer *L, char *buf, size_t cap);
    /* The model (model.c). tensor_shape: the weight's PyTorch shape and rank, and the bias's
     * rank (the bias takes the weight's leading dims); NULL: both [out_c]. buffers: names the
     * layer's buffer tensors at offset `at` of the buffer array, returning how many values;
     * reset: their initial values. init: PyTorch's default initialisation of the parameters,
     * drawing from rng in layer order. */
    void (*tensor_shape)(const hesse_layer *L, int64_t shape[4], int *wdim, int *bdim);
    /* tensors: for a layer whose parameters are not one weight and one bias, names its
     * parameter tensors from offset `at` of the parameter vector (weight_count + bias_count
     * values in all) and sets its weight_offset / bias_offset; with t NULL it only counts them.
     * Returns how many. NULL: "<m>.weight" then "<m>.bias", shaped by tensor_shape. */
    int (*tensors)(hesse_tensor_info *t, hesse_layer *L, int layer, int64_t at);
    int nbuffers;
    int64_t (*buffers)(hesse_tensor_info *t, const hesse_layer *L, int layer, int64_t at);
    void (*reset)(const hesse_layer *L, double *buffers);
    void (*init)(const hesse_layer *L, double *params, hesse_rng *rng);
    /* The engine (engine.c, engine_typed.inc). cols: im2col values per sample kept in the
     * chunk state; keep: see below; scratch: raises the R-pass scratch maxima; depends: whether its
     * output depends on the parameters (NULL: its input does, or it has parameters); fuse: the step
     * type that runs this layer and the next one together, or NULL. */
    int64_t (*cols)(const hesse_layer *L);
    /* keep: values per sample that the layer's forward and backward passes keep for its later
     * passes in the chunk state (*state; cached with the activations), and values per sample
     * and vector that its R-forward keeps for its R-backward (*rstate); NULL: none. */
    void (*keep)(const hesse_layer *L, int64_t *state, int64_t *rstate);
    void (*scratch)(const hesse_layer *L, int k, nn_scratch *s);
    int (*depends)(const hesse_engine *e, int l);
    const struct nn_layer_type *(*fuse)(const hesse_layer *next);
    /* Samples checked before any pass (nn_check_samples), for a layer that reads them (its
     * input is the model's input): a one-line HESSE_EINPUT naming the sample and the value at
     * fault; NULL: any values. */
    int (*check_input)(const hesse_layer *L, const hesse_samples *s);
    /* Kronecker factors (factors.c), NULL for layers without: the dimensions (in, out,
     * positions), and xx += the chunk's input second moments (upper triangle), xs += the sums
     * of its inputs (in values; conv: over samples and positions). */
    void (*factor_dims)(const hesse_layer *L, hesse_layer_factors *f);
    void (*factor_xx)(nn_work_f64 *w, int B, const hesse_layer_factors *f, double *xx, double *xs);
    /* The passes in each precision (layer_*.inc). */
    const nn_pass_f64 *pass_f64;
    const nn_pass_f32 *pass_f32;
} nn_layer_type;

/* The row of a kind (layers.c); NULL for a value outside hesse_layer_kind. */
const nn_layer_type *nn_layer_type_of(hesse_layer_kind kind);
/* The kind written `name` (lower case, aliases included); 0 when there is none. */
int nn_layer_lookup(const char *name, hesse_layer_kind *kind);
/* Every kind in enum order, for loops over the table. */
#define NN_NUM_KINDS ((int)HESSE_LAYER_ADD + 1)

/* The rows, one per kind (layer_*.c), and the fused ReLU -> max pool step (layer_pool.c). */
extern const nn_layer_type nn_layer_linear, nn_layer_conv2d, nn_layer_maxpool2d, nn_layer_avgpool2d,
    nn_layer_adaptiveavgpool2d, nn_layer_batchnorm2d, nn_layer_batchnorm1d, nn_layer_layernorm,
    nn_layer_relu, nn_layer_tanh, nn_layer_sigmoid, nn_layer_gelu, nn_layer_flatten,
    nn_layer_dropout, nn_layer_dropout2d, nn_layer_identity, nn_layer_residual, nn_layer_shortcut,
    nn_layer_add, nn_layer_relu_maxpool;
extern const nn_layer_type nn_layer_embedding, nn_layer_posembed, nn_layer_tokens,
    nn_layer_meanpool, nn_layer_multiheadattention;

/* The pass rows of a kind, defined by its layer_*.inc in both precisions. */
#define NN_DECLARE_PASSES(name)                                                                    \
    extern const nn_pass_f64 nn_pass_##name##_f64;                                                 \
    extern const nn_pass_f32 nn_pass_##name##_f32
#define NN_PASSES(name) .pass_f64 = &nn_pass_##name##_f64, .pass_f32 = &nn_pass_##name##_f32

/* Helpers of the configure functions (arch.c): bind the item's arguments from `first` on to
 * named slots; read a positive (or non-negative) integer or pair, a number in [lo, hi], a
 * boolean, with defaults when absent (dflt < 0: required). */
int nn_arch_bind(const arch_ctx *cx, const arch_item *it, const char *label, int first,
                 const char *const *names, int nnames, const arch_arg **slots);
int nn_arch_positive(const arch_ctx *cx, const arch_item *it, const char *label, const char *what,
                     const arch_arg *arg, int allow_zero, int *a, int *b, int dflt);
int nn_arch_number(const arch_ctx *cx, const arch_item *it, const char *label, const char *what,
                   const arch_arg *arg, double lo, double hi, double dflt, double *out);
int nn_arch_bool(const arch_ctx *cx, const arch_item *it, const char *label, const char *what,
                 const arch_arg *arg, int dflt, int *out);
/* A double in its shortest text that reads back to the same value. */
void nn_format_double(char *buf, size_t cap, double v);
/* A conv or pool window's text: the kernel size k ("5", "(3,5)"), and ",stride=..." (when
 * not sh, sw) and ",padding=..." (when not 0) or "". */
void nn_describe_window(const hesse_layer *L, int sh, int sw, char *k, char *st, char *pd,
                        size_t cap);
/* The output size of a conv or pool window over an input of c x h x w (layer_conv2d.c). */
int nn_window_shape(const arch_ctx *cx, const char *label, const hesse_layer *L, int c, int h,
                    int w, int *oh, int *ow);

/* linear's features and the positions that share its weight (layer_linear.c): flat input
 * (h = w = 1) is one position of in_c features; any other input (c, h, w) is c*h positions
 * of w features each, token-major, like PyTorch's nn.Linear on [..., in]. */
static inline void nn_linear_dims(const hesse_layer *L, int *in, int *out, int *positions) {
    const int flat = L->in_h == 1 && L->in_w == 1;
    *in = flat ? L->in_c : L->in_w;
    *out = flat ? L->out_c : L->out_w;
    *positions = flat ? 1 : L->in_c * L->in_h;
}

/* Values per sample of any activation (the input included): kernels index a sample's values
 * with int. A larger request is a corrupt or hostile string, and refusing it when parsing keeps
 * every shape computation free of overflow. Parameters of the whole network: offsets and counts
 * are int64, and stay exact as doubles. */
#define NN_MAX_VALUES 2147483647LL
#define NN_MAX_PARAMS (1LL << 50)

/* A tensor view named "<module>.<what>" (model.c). */
void nn_set_tensor(hesse_tensor_info *t, const hesse_layer *L, int layer, const char *what,
                   int ndim, const int64_t *shape, int64_t offset);

/* multiheadattention's parameters lie from its weight_offset as in_proj_weight [3D, D],
 * in_proj_bias [3D] (bias=True), out_proj.weight [D, D], out_proj.bias [D] (bias=True), with
 * D = in_w: the offset of out_proj.weight from weight_offset. */
static inline int64_t nn_attn_out_offset(const hesse_layer *L) {
    const int64_t D = L->in_w;
    return 3 * D * D + (L->has_bias ? 3 * D : 0);
}

/* PyTorch's kaiming-uniform default of Linear and Conv2d (model.c). */
void nn_init_kaiming(const hesse_layer *L, double *params, hesse_rng *rng);

#endif
