/* hesse/nn.h: networks as PyTorch nn.Sequential chains, with residual blocks, over one
 * contiguous parameter buffer; forward, backward, and the R-operator passes that give exact
 * Hessian-vector and Gauss-Newton-vector products, in block form (k vectors per pass).
 *
 * Architecture strings use PyTorch module names in nn.Sequential order, e.g.
 *   conv2d(1,6,5,padding=2),relu,maxpool2d(2),flatten,linear(1176,10)
 * Layer i's tensors are named "{i}.weight" and "{i}.bias" with PyTorch's shapes and
 * row-major layouts; the flattened parameter vector is those tensors in layer order. An item
 * may carry a module path, "layer1.0.conv1:conv2d(...)", which then names its tensors
 * ("layer1.0.conv1.weight"); residual(<main> | <shortcut>) adds the two branches; presets
 * (resnet18-cifar, vgg11-bn-cifar, lenet5, mlp(784,512,10)) expand to such strings. Batch
 * norm runs in evaluation mode: its running statistics are buffers, loaded and saved with
 * the model but not parameters. docs/architectures.md has the grammar and module layouts.
 *
 * Room: nn/ owns networks and their passes, one file per layer kind (docs/adding-a-layer.md);
 * curvature operators over them are curv/'s, solvers never see this header.
 * Ownership and threads: a model is read-only once built (hesse_model_load, hesse_model_create)
 * except through hesse_model_params, so engines on different threads may share one as long as
 * nobody writes its parameters meanwhile. An engine is NOT thread-safe: it holds a mutable
 * cache and scratch, and runs its own workers; one thread at a time calls it. While a
 * multi-worker engine runs a pass it sets BLAS to one thread, process-wide (hesse_blas_*,
 * core.h), and restores it after: run engines one after another, not side by side. The
 * reduction and pass-check hooks are called on the calling thread, collectively on every rank. */
#ifndef HESSE_NN_H
#define HESSE_NN_H

#include <hesse/export.h>
#include <hesse/core.h>
#include <hesse/data.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    HESSE_LAYER_LINEAR,
    HESSE_LAYER_CONV2D,
    HESSE_LAYER_MAXPOOL2D,
    HESSE_LAYER_AVGPOOL2D,
    HESSE_LAYER_FLATTEN,
    HESSE_LAYER_RELU,
    HESSE_LAYER_TANH,
    HESSE_LAYER_SIGMOID,
    HESSE_LAYER_GELU,
    HESSE_LAYER_BATCHNORM2D,       /* evaluation mode: running statistics, fixed */
    HESSE_LAYER_BATCHNORM1D,       /* the same over flat features */
    HESSE_LAYER_LAYERNORM,         /* over the trailing dimensions given (normalized_shape) */
    HESSE_LAYER_ADAPTIVEAVGPOOL2D, /* PyTorch's windows: [floor(i H / Ho), ceil((i+1) H / Ho)) */
    HESSE_LAYER_DROPOUT,           /* evaluation mode: the identity */
    HESSE_LAYER_DROPOUT2D,         /* evaluation mode: the identity */
    HESSE_LAYER_IDENTITY,
    /* sequences (1, T, D), token-major (docs/architectures.md) */
    HESSE_LAYER_EMBEDDING,          /* token ids (1, T, 1) -> (1, T, D) */
    HESSE_LAYER_POSEMBED,           /* adds the first T rows of a learned [T_max, D] table */
    HESSE_LAYER_TOKENS,             /* (D, H, W) -> (1, H W, D) */
    HESSE_LAYER_MEANPOOL,           /* (1, T, D) -> (D, 1, 1) */
    HESSE_LAYER_MULTIHEADATTENTION, /* self-attention over a sequence (1, T, D) */
    /* A residual block residual(main | shortcut) becomes RESIDUAL (its output is its input
     * x), the main items, SHORTCUT (its output is x again), the shortcut items, and ADD
     * (main output + shortcut output). Their block[] holds the three indices. */
    HESSE_LAYER_RESIDUAL,
    HESSE_LAYER_SHORTCUT,
    HESSE_LAYER_ADD
} hesse_layer_kind;

/* The longest tensor name, terminator included: module paths have at most
 * HESSE_MODULE_MAX - 1 characters, and ".num_batches_tracked" follows. */
#define HESSE_MODULE_MAX 104
#define HESSE_NAME_MAX   128

typedef enum { HESSE_LOSS_CROSS_ENTROPY = 0, HESSE_LOSS_MSE = 1 } hesse_loss_kind;

/* One layer as resolved against the input shape. Shapes are per sample (C, H, W); flat
 * features have H = W = 1. */
typedef struct {
    hesse_layer_kind kind;
    int index;                    /* position of its top-level item (a residual's inner layers
                                     share the residual's) */
    char name[HESSE_MODULE_MAX];  /* module path, the tensor name prefix: "3", "layer1.0.conv1" */
    int in_c, in_h, in_w;         /* input shape */
    int out_c, out_h, out_w;      /* output shape */
    int kh, kw, sh, sw, ph, pw;   /* conv2d / pooling: kernel, stride, padding */
    int has_bias;                 /* linear / conv2d / batch norm (affine) / layer norm */
    int has_weight;               /* batch norm (affine) / layer norm (elementwise_affine) */
    double eps, momentum;         /* batch norm / layer norm (momentum: kept for the string) */
    double p;                     /* dropout probability (unused: evaluation mode) */
    int norm_ndim, norm_shape[3]; /* layer norm: normalized_shape */
    int rows, dim;                /* embedding: V, D; posembed: T, D (the table [rows, dim]) */
    int64_t group;                /* layer norm: values per normalised group */
    int heads, causal;            /* multiheadattention: heads, causal mask (D is in_w) */
    int block[3];                 /* residual markers: RESIDUAL, SHORTCUT, ADD layer indices */
    int64_t weight_offset, weight_count; /* view into the parameter buffer (count 0: none) */
    int64_t bias_offset, bias_count;
    int64_t buffer_offset; /* batch norm: running_mean, running_var (C each) and
                              num_batches_tracked (1) at this offset of the buffer array */
} hesse_layer;

/* A named tensor: a view into the parameter buffer, or (buffers) into the buffer array. */
typedef struct {
    char name[HESSE_NAME_MAX]; /* "3.weight", "layer1.0.bn1.running_mean" */
    int layer;                 /* index into the model's layer list */
    int ndim;                  /* 0 for a scalar (num_batches_tracked) */
    int64_t shape[4];
    int64_t offset, count;
    int integer; /* buffers: stored as I64 (num_batches_tracked) */
} hesse_tensor_info;

typedef struct hesse_model hesse_model;

/* Parses `arch` (or expands a preset) and resolves every layer's shapes from the input shape
 * (c, h, w). Errors (HESSE_EINPUT) name the layer and the expected vs found size, or the
 * unknown token and its position. Parameters start zeroed (buffers at PyTorch's initial
 * values); call hesse_model_init for PyTorch's default init. */
HESSE_API int hesse_model_create(const char *arch, int c, int h, int w, hesse_loss_kind loss,
                                 hesse_model **out);
HESSE_API void hesse_model_free(hesse_model *m);
HESSE_API int hesse_model_clone(const hesse_model *m, hesse_model **out);

/* PyTorch's default initialisation of Linear and Conv2d (kaiming-uniform with a = sqrt(5):
 * weights and biases uniform in +-1/sqrt(fan_in)), drawn from hesse's seeded generator;
 * batch and layer norm: weight 1, bias 0, running statistics 0 and 1. */
HESSE_API void hesse_model_init(hesse_model *m, uint64_t seed);

HESSE_API int64_t hesse_model_num_params(const hesse_model *m);
HESSE_API double *hesse_model_params(hesse_model *m);
HESSE_API const double *hesse_model_params_const(const hesse_model *m);
HESSE_API int hesse_model_num_layers(const hesse_model *m);
HESSE_API const hesse_layer *hesse_model_layer(const hesse_model *m, int i);
HESSE_API int hesse_model_num_tensors(const hesse_model *m);
HESSE_API const hesse_tensor_info *hesse_model_tensor(const hesse_model *m, int i);
/* NULL when no tensor has that name. */
HESSE_API const hesse_tensor_info *hesse_model_find_tensor(const hesse_model *m, const char *name);
/* Buffers: tensors of the state_dict that are not parameters (batch norm's running_mean,
 * running_var, num_batches_tracked). They start at PyTorch's initial values (0, 1, 0), are
 * read by the passes, and are never differentiated. */
HESSE_API int hesse_model_num_buffers(const hesse_model *m);
HESSE_API const hesse_tensor_info *hesse_model_buffer(const hesse_model *m, int i);
HESSE_API const hesse_tensor_info *hesse_model_find_buffer(const hesse_model *m, const char *name);
HESSE_API int64_t hesse_model_buffer_count(const hesse_model *m); /* values in all buffers */
HESSE_API double *hesse_model_buffers(hesse_model *m);
HESSE_API const double *hesse_model_buffers_const(const hesse_model *m);
/* 1 when the network has layers whose training-mode behaviour differs from the evaluation
 * mode hesse implements (batch norm, dropout); the name of the first in *what. */
HESSE_API int hesse_model_has_eval_only(const hesse_model *m, const char **what);
/* The canonical text of one layer's item, e.g. "batchnorm2d(128)" (markers: "residual",
 * "shortcut", "add"). */
HESSE_API void hesse_layer_describe(const hesse_layer *L, char *buf, size_t cap);
/* The canonical architecture string (normalised spacing and names). */
HESSE_API const char *hesse_model_arch(const hesse_model *m);
HESSE_API hesse_loss_kind hesse_model_loss(const hesse_model *m);
HESSE_API void hesse_model_input_shape(const hesse_model *m, int *c, int *h, int *w);
/* Values of the network's output per sample, c*h*w of the last layer (a classifier: its c). */
HESSE_API int hesse_model_num_outputs(const hesse_model *m);
/* How the loss reads that output: an output (c, 1, 1) is one position of c classes; any other
 * (c, h, w) is P = c*h positions of V = w classes each (a sequence [T, V] is (1, T, V): one
 * next-token distribution per token), with one label per position. P = 1 for a classifier. */
HESSE_API int hesse_model_positions(const hesse_model *m);
HESSE_API int hesse_model_classes(const hesse_model *m);
/* SHA-256 over the architecture string, the parameter bytes and the buffers' (if any). */
HESSE_API void hesse_model_hash(const hesse_model *m, char hex[65]);
/* "cross_entropy" / "mse", and the inverse (HESSE_EINPUT on an unknown name). */
HESSE_API const char *hesse_loss_name(hesse_loss_kind loss);
HESSE_API int hesse_loss_parse(const char *name, hesse_loss_kind *loss);
HESSE_API const char *hesse_layer_kind_name(hesse_layer_kind kind);

/* An engine holds the scratch for passes over data in chunks of at most `chunk` samples
 * and blocks of at most `max_block` vectors, for `threads` workers that take the chunks in
 * turn (results are reduced in a fixed order: the same thread count gives the same bits).
 * It reads the model's parameters at every call (they may change between calls) and must
 * not outlive the model.
 *
 * The cache keeps the forward and backward state of every chunk of the last sample set used
 * for curvature products, so that repeated products with the same parameters and samples
 * (every iteration of an eigensolver) skip the forward and backward passes. It is keyed by
 * checksums of the parameters and the samples and rebuilt when they change. */
typedef enum { HESSE_PRECISION_F64 = 0, HESSE_PRECISION_F32 = 1 } hesse_precision;

typedef struct {
    int chunk;                 /* samples per chunk; 0: chosen from the memory budget */
    int max_block;             /* vectors per R-pass; 0: 1 (reduced when the budget would otherwise
                                  force chunks of fewer than 32 samples: see hesse_engine_max_block) */
    size_t memory_budget;      /* bytes of scratch for all workers when chunk = 0; 0: 1/8 of the
                                  installed memory, within 512 MiB .. 2 GiB */
    int threads;               /* workers; 0: OpenBLAS's thread count */
    int cache;                 /* 1 (default): cache the forward/backward state for products */
    size_t cache_budget;       /* bytes the cache may use; 0: a quarter of the available memory,
                                  at most 4 GiB. Sample sets that need more run uncached. */
    hesse_precision precision; /* F64 (default), or F32: passes in single precision, while
                                  every vector in or out and every sum over chunks is double */
} hesse_engine_params;
HESSE_API hesse_engine_params hesse_engine_defaults(void);

typedef struct hesse_engine hesse_engine;
HESSE_API int hesse_engine_create(const hesse_model *m, const hesse_engine_params *p,
                                  hesse_engine **out);
HESSE_API void hesse_engine_free(hesse_engine *e);
HESSE_API int hesse_engine_chunk(const hesse_engine *e);
HESSE_API int hesse_engine_max_block(const hesse_engine *e);
HESSE_API size_t hesse_engine_bytes(const hesse_engine *e);
HESSE_API int64_t hesse_engine_num_params(const hesse_engine *e);
HESSE_API int hesse_engine_threads(const hesse_engine *e);

/* Distributed runs: a reduction fn(ctx, data, count) that sums `count` doubles in place
 * over all ranks (MPI_Allreduce; dist.h provides one). With it, every pass sums its result
 * over the ranks' shards (loss, gradient, products, backward sums, layer factors) and every
 * rank gets the total; the mean divides by hesse_samples_total. A rank whose own samples fail
 * (a non-finite loss) still joins the reductions, so that every rank fails alike. */
typedef int (*hesse_reduce_fn)(void *ctx, double *data, int64_t count);
HESSE_API void hesse_engine_set_reduce(hesse_engine *e, hesse_reduce_fn fn, void *ctx);
/* The agreement every pass begins with: `failed` is 1 when this rank's own samples gave a
 * non-finite loss, and the function sets *any to whether any rank's did (collective). Without
 * one the reduction sums the failures. An application may carry its own per-pass news in the
 * same call (the CLI: a stop request on any rank, so that every rank stops at the same pass);
 * the reduction itself only ever sums. A failing check counts as a failure. */
typedef int (*hesse_pass_check_fn)(void *ctx, int failed, int *any);
HESSE_API void hesse_engine_set_pass_check(hesse_engine *e, hesse_pass_check_fn fn, void *ctx);
/* Sums count doubles in place with the installed reduction (collective: every rank calls it
 * alike); nothing to do without one. */
HESSE_API int hesse_engine_reduce(hesse_engine *e, double *data, int64_t count);
HESSE_API hesse_precision hesse_engine_precision(const hesse_engine *e);
/* Bytes the cache holds now, and how many passes reused it. */
HESSE_API size_t hesse_engine_cache_bytes(const hesse_engine *e);
HESSE_API int64_t hesse_engine_cache_hits(const hesse_engine *e);
HESSE_API const hesse_model *hesse_engine_model(const hesse_engine *e);

/* Mean loss over all samples of s, and optionally (non-NULL) its gradient (length n,
 * overwritten) and the number of positions whose arg-max output equals the label (samples for a
 * classifier; out of hesse_samples_positions(s)). Cross-entropy is the mean over the N P
 * positions (PyTorch's F.cross_entropy(z.view(-1, V), y.view(-1))), MSE the mean over all N C
 * outputs against one-hot targets. The samples need P labels each (hesse_model_positions).
 * Fails with HESSE_EINPUT when the samples' shape or labels do not fit the model and with
 * HESSE_ENUMERIC (naming the sample) when the loss is not finite. */
HESSE_API int hesse_loss_grad(hesse_engine *e, const hesse_samples *s, double *loss, double *grad,
                              int64_t *correct);

/* Curvature matrices of the mean loss L = (1/N) sum_i l_i (for P > 1 positions, l_i is the mean
 * of sample i's per-position cross-entropies, or its MSE over all C outputs; A below is then
 * block diagonal, one block per position):
 *   HESSIAN   H, exact (Pearlmutter's R-operator)
 *   GGN       G = J^T A J, A the Hessian of the loss in the logits (the Fisher for softmax CE)
 *   RESIDUAL  E = H - G, the second-order terms of the network alone, in one pass
 *   EFISHER   the empirical Fisher (1/N) sum_i g_i g_i^T, g_i = grad l_i */
typedef enum {
    HESSE_CURV_HESSIAN = 0,
    HESSE_CURV_GGN = 1,
    HESSE_CURV_RESIDUAL = 2,
    HESSE_CURV_EFISHER = 3
} hesse_curv_kind;
/* "hessian", "ggn", "residual", "efisher", and back (HESSE_EINVAL on an unknown name). */
HESSE_API const char *hesse_curv_name(hesse_curv_kind kind);
HESSE_API int hesse_curv_parse(const char *name, hesse_curv_kind *kind);

/* Y[:, j] = C V[:, j] for j < k, C one of the matrices above over the samples of s.
 * V and Y are n x k, column-major, leading dimension n; k may exceed max_block (done in
 * several R-passes that share one forward and backward pass per chunk). */
HESSE_API int hesse_curv_product(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind,
                                 int k, const double *V, double *Y);

/* Logits (network outputs) of every sample: out is row-major [s->n, num_outputs]. */
HESSE_API int hesse_forward(hesse_engine *e, const hesse_samples *s, double *out);

/* Fills the logit gradients gz [B, C] of samples i0 .. i0 + B - 1 of s, given their logits
 * z [B, C], softmax probabilities p [B, C] (per position: [B, P, V]) and labels y [B * P]. The
 * engine's workers call it concurrently, each for its own samples: it must not modify shared state.
 */
typedef void (*hesse_logit_grad_fn)(void *ctx, int64_t i0, int B, const double *z, const double *p,
                                    const int32_t *y, double *gz);

/* grad = sum_i J_i^T gz_i over the samples of s, with J_i the Jacobian of sample i's logits in
 * the parameters and gz_i chosen by fn: a backward pass with arbitrary output gradients (no
 * loss, no 1/N). With gz_i = dl_i/dz / N it is the gradient of the mean loss. */
HESSE_API int hesse_backward_with(hesse_engine *e, const hesse_samples *s, hesse_logit_grad_fn fn,
                                  void *ctx, double *grad);

/* Kronecker factors of the layer Hessians (Wu et al., "Dissecting Hessian", sec. 3; for
 * convolutions as in Grosse & Martens, KFC, 2016). For a linear layer z = W x + b,
 *   H_W = (1/N) sum_i M_i (x) x_i x_i^T   exactly,   M_i = d^2 l_i / dz^2,
 * and the decoupling conjecture is H_W ~ E[M] (x) E[x x^T]. For a convolution x runs over the
 * im2col patches and M over output channels: xx = E over samples and positions of x x^T,
 * M = E over samples of the sum over positions p of the diagonal blocks M_{i,pp} (Cout x Cout,
 * d^2 l_i / dz_{.,p} dz_{.,p}) of the output Hessian; the blocks between two positions are
 * left out, which is the KFC convention (exact for one output position). A linear layer on a
 * sequence (1, T, D) has the T tokens as its positions, the same way.
 *
 * Which M: HESSE_FACTOR_M_EXACT, the loss Hessian in the layer's output through every later
 * nonlinearity (tanh, sigmoid, GELU, layer norm and the loss): where every later layer is
 * piecewise linear (ReLU, pooling, linear, conv) that is J_z^T A J_z, from C backward passes
 * per chunk; otherwise one R-forward and R-backward pass (the second-order terms on, no
 * parameter direction) per output value of the layer (out, or Cout * positions for a conv),
 * in blocks of the engine's max_block. HESSE_FACTOR_M_GGN: the Gauss-Newton part
 * J_z^T A J_z alone, an approximation wherever a curved layer follows. */
typedef enum { HESSE_FACTOR_M_EXACT = 0, HESSE_FACTOR_M_GGN = 1 } hesse_factor_m;
/* "exact", "ggn", and back (HESSE_EINVAL on an unknown name). */
HESSE_API const char *hesse_factor_m_name(hesse_factor_m which);
HESSE_API int hesse_factor_m_parse(const char *name, hesse_factor_m *which);

typedef struct {
    int layer;             /* index into the model's layers */
    int64_t in, out;       /* x and z dimensions per position (conv: Cin*kh*kw and Cout) */
    int64_t positions;     /* output positions per sample (1 for linear on flat input) */
    double *xx;            /* in x in, E[x x^T] */
    double *M;             /* out x out, E[M] as asked (M_kind) */
    int M_exact;           /* 1 when M is the exact output Hessian: asked for, or the network
                              after the layer is piecewise linear, so the GGN part is all of it */
    hesse_factor_m M_kind; /* the M asked for */
    double *x_mean;        /* in, E[x] (conv: the mean patch over samples and positions) */
} hesse_layer_factors;

/* The factors of every linear and conv layer over the samples of s (one forward pass per
 * chunk, C backward passes for the layers whose M is J^T A J, and the R-passes above for the
 * others). *out (count entries) is released with hesse_layer_factors_free. */
HESSE_API int hesse_layer_factors_compute(hesse_engine *e, const hesse_samples *s,
                                          hesse_factor_m which, hesse_layer_factors **out,
                                          int *count);
HESSE_API void hesse_layer_factors_free(hesse_layer_factors *f, int count);
/* The cost of the exact M: directions per sample that hesse_layer_factors_compute runs as
 * R-passes (the output values of the factor layers behind a curved layer; 0 for a network
 * piecewise linear after its first factor layer, or for HESSE_FACTOR_M_GGN). */
HESSE_API int64_t hesse_layer_factors_rpasses(const hesse_engine *e, hesse_factor_m which);

/* ---- Training ---------------------------------------------------------------------------
 * Optimizers that follow PyTorch's torch.optim.SGD, torch.optim.Adam and torch.optim.AdamW
 * step for step (SGD and Adam: weight decay added to the gradient; SGD momentum buffer
 * initialised to the first gradient; Adam's bias-corrected moments; AdamW: Loshchilov &
 * Hutter's decoupled decay theta *= 1 - lr * weight_decay before the Adam step). */
typedef enum {
    HESSE_OPTIM_SGD = 0,
    HESSE_OPTIM_ADAM = 1,
    HESSE_OPTIM_ADAMW = 2,
    HESSE_OPTIM_GD = 3 /* full-batch gradient descent: theta -= lr (grad + wd theta), no momentum */
} hesse_optim_kind;
typedef struct {
    hesse_optim_kind kind;
    double momentum;          /* SGD (GD ignores it) */
    double weight_decay;      /* SGD, GD, Adam: g += wd * theta; AdamW: theta *= 1 - lr * wd */
    double beta1, beta2, eps; /* Adam, AdamW */
} hesse_optim_params;
/* PyTorch's defaults: weight decay 0, except 0.01 for AdamW; betas 0.9, 0.999; eps 1e-8. */
HESSE_API hesse_optim_params hesse_optim_defaults(hesse_optim_kind kind);
/* "sgd", "adam", "adamw", "gd", and back (HESSE_EINVAL on an unknown name). */
HESSE_API const char *hesse_optim_name(hesse_optim_kind kind);
HESSE_API int hesse_optim_parse(const char *name, hesse_optim_kind *kind);

typedef struct hesse_optimizer hesse_optimizer;
HESSE_API int hesse_optimizer_create(int64_t n, const hesse_optim_params *p, hesse_optimizer **out);
HESSE_API void hesse_optimizer_free(hesse_optimizer *o);
/* One step with learning rate lr: updates theta (length n) from grad, which it may
 * overwrite (weight decay is added to it in place). */
HESSE_API void hesse_optimizer_step(hesse_optimizer *o, double lr, double *theta, double *grad);
/* Adam/AdamW after at least one step: diag[i] = sqrt(v[i] / (1 - beta2^t)) + eps (length n), the
 * divisor of the step just taken (torch.optim.Adam's `denom`), so that the step was
 * theta -= lr * m_hat / diag. HESSE_EINVAL (with a message) for SGD/GD or before the first step. */
HESSE_API int hesse_optimizer_preconditioner(const hesse_optimizer *o, double *diag);
/* beta1 of Adam/AdamW; 0 for SGD and GD. */
HESSE_API double hesse_optimizer_beta1(const hesse_optimizer *o);
/* Steps taken so far. */
HESSE_API int64_t hesse_optimizer_steps(const hesse_optimizer *o);
/* The optimizer's state for checkpoints: step count and moments (bytes: its size). save writes
 * it to buf; load reads it back into an optimizer created with the same n and params
 * (HESSE_EINPUT when the size or kind differs). */
HESSE_API size_t hesse_optimizer_state_bytes(const hesse_optimizer *o);
HESSE_API void hesse_optimizer_state_save(const hesse_optimizer *o, unsigned char *buf);
HESSE_API int hesse_optimizer_state_load(hesse_optimizer *o, const unsigned char *buf, size_t size);

typedef enum {
    HESSE_SCHEDULE_CONSTANT = 0,
    HESSE_SCHEDULE_STEP = 1,
    HESSE_SCHEDULE_COSINE = 2,
    HESSE_SCHEDULE_WARMUP_COSINE = 3 /* per step: hesse_schedule_warmup_cosine */
} hesse_schedule_kind;
/* The learning rate of epoch e (0-based) of `epochs`, as PyTorch's StepLR (every
 * step_epochs epochs times gamma) and CosineAnnealingLR (T_max = epochs, eta_min = 0)
 * stepped once per epoch; lr itself for HESSE_SCHEDULE_CONSTANT (and for the per-step
 * HESSE_SCHEDULE_WARMUP_COSINE, which the caller evaluates per step below). */
HESSE_API double hesse_schedule_lr(hesse_schedule_kind kind, double lr, int epoch, int epochs,
                                   int step_epochs, double gamma);
/* The learning rate of optimizer step s (0-based) of `steps`, with W = warmup steps
 * (0 <= W < steps): a linear warm-up, then a cosine decay to zero,
 *   lr * (s + 1) / W                                for s < W,
 *   lr * (1 + cos(pi * (s - W) / (steps - W))) / 2  for W <= s < steps.
 * PyTorch: LambdaLR with this factor, equal to SequentialLR([LinearLR(start_factor=1/W,
 * total_iters=W-1), CosineAnnealingLR(T_max=steps-W)], milestones=[W]) stepped once per
 * optimizer step (W = 0: CosineAnnealingLR(T_max=steps) alone). */
HESSE_API double hesse_schedule_warmup_cosine(double lr, int64_t step, int64_t steps,
                                              int64_t warmup);

/* ---- The training loop ----------------------------------------------------------------
 * hesse_trainer runs the optimizer over a model and its training samples one step at a time:
 * minibatches of the samples shuffled at the start of every epoch (hesse_rng stream 1 of the
 * seed; stream 0 initialises the weights), or for HESSE_OPTIM_GD one step per epoch on the
 * gradient over all samples in their order (chunked by the engine). The learning rate of a
 * step follows the schedule: per epoch (hesse_schedule_lr) or, for warmup-cosine, per step.
 * The state (parameters, optimizer moments and step count, the shuffle's rng and order, the
 * position and the running sums of the epoch) saves to a blob, so that a run stopped between
 * two steps and resumed from it takes the same steps bit for bit. */
typedef struct {
    hesse_optim_params optim;
    hesse_schedule_kind schedule;
    double lr;       /* base learning rate */
    int epochs;      /* epochs in all (0: no step) */
    int batch;       /* minibatch size (capped at the samples); ignored by GD */
    int step_epochs; /* HESSE_SCHEDULE_STEP: epochs between decays (>= 1) */
    double gamma;    /* HESSE_SCHEDULE_STEP: decay factor */
    int64_t warmup;  /* HESSE_SCHEDULE_WARMUP_COSINE: warm-up steps (< all steps) */
    uint64_t seed;   /* the shuffle's seed */
    int chunk;       /* GD: samples per engine chunk (0: from memory); SGD/Adam: the batch */
} hesse_trainer_params;
/* SGD, constant lr 0.01, one epoch, batch 64, step_epochs 1, gamma 0.1, warmup 0, seed 0. */
HESSE_API hesse_trainer_params hesse_trainer_defaults(void);

/* What one step did. */
typedef struct {
    int64_t step;        /* steps done after it (1 for the first) */
    int epoch;           /* its epoch, 0-based */
    int64_t index;       /* its minibatch within the epoch, 0-based */
    int epoch_end;       /* 1 when it was the last step of its epoch */
    double lr;           /* the learning rate it used */
    double loss;         /* the mean loss of its minibatch, at the parameters before it */
    int64_t count;       /* samples in its minibatch */
    double epoch_loss;   /* the epoch so far: mean loss over its minibatches' samples */
    double epoch_acc;    /* and the fraction of positions predicted right */
    int64_t epoch_count; /* samples the epoch has seen so far */
} hesse_train_step;

typedef struct hesse_trainer hesse_trainer;
/* A trainer over m (borrowed, its parameters updated in place) and the training samples s
 * (borrowed); both must outlive it. HESSE_EINVAL for bad parameters (an empty set, a warm-up
 * that leaves no step of decay), HESSE_ENOMEM. */
HESSE_API int hesse_trainer_create(hesse_model *m, const hesse_samples *s,
                                   const hesse_trainer_params *p, hesse_trainer **out);
HESSE_API void hesse_trainer_free(hesse_trainer *t);
/* One optimizer step (HESSE_EINVAL when all are done); info may be NULL. Errors of the loss
 * (HESSE_ENUMERIC, HESSE_EINPUT) leave the parameters as they were. */
HESSE_API int hesse_trainer_step(hesse_trainer *t, hesse_train_step *info);
HESSE_API int64_t hesse_trainer_steps_done(const hesse_trainer *t);
HESSE_API int64_t hesse_trainer_steps_total(const hesse_trainer *t);
/* Minibatches per epoch (1 for GD) and the minibatch size (all samples for GD). */
HESSE_API int64_t hesse_trainer_batches(const hesse_trainer *t);
HESSE_API int hesse_trainer_batch_size(const hesse_trainer *t);
/* The learning rate of step s (0-based). */
HESSE_API double hesse_trainer_lr(const hesse_trainer *t, int64_t step);
HESSE_API const hesse_optimizer *hesse_trainer_optimizer(const hesse_trainer *t);
/* The state blob: its size, a copy into buf (that many bytes), and back into a trainer created
 * over the same model, samples and parameters (HESSE_EINPUT naming what differs, the
 * trainer unchanged). */
HESSE_API size_t hesse_trainer_state_bytes(const hesse_trainer *t);
HESSE_API void hesse_trainer_state_save(const hesse_trainer *t, unsigned char *buf);
HESSE_API int hesse_trainer_state_load(hesse_trainer *t, const unsigned char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_NN_H */
