/* Internals of nn/: the model object, the architecture parser, and the layer kernels. */
#ifndef HESSE_NN_IMPL_H
#define HESSE_NN_IMPL_H

#include <hesse/nn.h>

struct hesse_model {
    char *arch; /* canonical */
    int c, h, w;
    hesse_loss_kind loss;
    int num_layers;
    hesse_layer *layers;
    int num_tensors;
    hesse_tensor_info *tensors;
    int64_t n;
    double *params;
};

/* Parses an architecture string and resolves shapes from the input (c, h, w); parameter
 * offsets are left for the caller. */
int nn_parse_arch(const char *arch, int c, int h, int w, hesse_layer **layers, int *count,
                  char **canonical);

/* Values per sample of a layer's input and output. */
static inline int64_t nn_in_size(const hesse_layer *L) {
    return (int64_t)L->in_c * L->in_h * L->in_w;
}
static inline int64_t nn_out_size(const hesse_layer *L) {
    return (int64_t)L->out_c * L->out_h * L->out_w;
}

/* im2col rows (Cin*kh*kw) and output positions (Ho*Wo) of a convolution. */
static inline int64_t nn_conv_k(const hesse_layer *L) {
    return (int64_t)L->in_c * L->kh * L->kw;
}
static inline int64_t nn_conv_p(const hesse_layer *L) {
    return (int64_t)L->out_h * L->out_w;
}

/* ---- Kernels (nn/kernels.inc, compiled for double as *_f64 and for float as *_f32).
 * Row-major; B is the number of samples. Kernels assume valid shapes. "+=" kernels
 * accumulate so that callers choose when to zero.
 *
 * linear_forward         x: [B, in], W: [out, in], b: [out] or NULL -> y: [B, out] = x W^T + b
 *                        (beta: 0 overwrite, 1 accumulate; the bias is added in both cases)
 * linear_backward_input  gy: [B, out], W: [out, in] -> gx: [B, in] = gy W (+ beta gx)
 * linear_backward_params gW: [out, in] += gy^T x;  gb: [out] += sum_b gy (gb may be NULL)
 * im2col                 x [B, Cin, H, W] -> cols [K, B*P], K = Cin*kh*kw (row order matches
 *                        W's [Cout, Cin, kh, kw]), P = Ho*Wo; padding reads as zero
 * col2im                 the adjoint: gx [B, Cin, H, W] += col2im(gcols [K, B*P])
 * bcp_to_cbp, cbp_to_bcp [B, C, P] <-> [C, B*P]; the inverse adds into dst when accumulate
 * maxpool_forward        [B, C, H, W] -> [B, C, Ho, Wo] and the arg-max (index into the
 *                        sample's input, first maximum in scan order as PyTorch) in idx
 * maxpool_gather         y [B, out] = x at idx (the R-forward of max pooling)
 * maxpool_scatter        gx [B, in] += gy scattered by idx (gx zeroed by the caller)
 * avgpool_forward/_backward  count_include_pad = True (PyTorch's default); backward adds
 * activation_forward     y = f(x) over count values
 * activation_jvp         out = f'(x) * v (the backward and the R-forward), given x and y = f(x)
 * activation_rback       rgx = f'(x) * rgy + f''(x) * rx * gy (the R-backward; rx = NULL drops
 *                        the second-order term, for the GGN) */
#define NN_KERNELS(real, S)                                                                        \
    void nn_linear_forward_##S(int B, int in, int out, const real *x, const real *W,               \
                               const real *b, real beta, real *y);                                 \
    void nn_linear_backward_input_##S(int B, int in, int out, const real *gy, const real *W,       \
                                      real beta, real *gx);                                        \
    void nn_linear_backward_params_##S(int B, int in, int out, const real *x, const real *gy,      \
                                       real *gW, real *gb);                                        \
    void nn_im2col_##S(const hesse_layer *L, int B, const real *x, real *cols);                    \
    void nn_col2im_##S(const hesse_layer *L, int B, const real *gcols, real *gx);                  \
    void nn_bcp_to_cbp_##S(int B, int C, int P, const real *src, real *dst);                       \
    void nn_cbp_to_bcp_##S(int B, int C, int P, const real *src, int accumulate, real *dst);       \
    void nn_maxpool_forward_##S(const hesse_layer *L, int B, const real *x, real *y,               \
                                int32_t *idx);                                                     \
    void nn_maxpool_gather_##S(const hesse_layer *L, int B, const real *x, const int32_t *idx,     \
                               real *y);                                                           \
    void nn_maxpool_scatter_##S(const hesse_layer *L, int B, const real *gy, const int32_t *idx,   \
                                real *gx);                                                         \
    void nn_avgpool_forward_##S(const hesse_layer *L, int B, const real *x, real *y);              \
    void nn_avgpool_backward_##S(const hesse_layer *L, int B, const real *gy, real *gx);           \
    void nn_activation_forward_##S(hesse_layer_kind kind, int64_t count, const real *x, real *y);  \
    void nn_activation_jvp_##S(hesse_layer_kind kind, int64_t count, const real *x, const real *y, \
                               const real *v, real *out);                                          \
    void nn_activation_rback_##S(hesse_layer_kind kind, int64_t count, const real *x,              \
                                 const real *y, const real *gy, const real *rx, const real *rgy,   \
                                 real *rgx);
NN_KERNELS(double, f64)
NN_KERNELS(float, f32)

static inline int nn_is_activation(hesse_layer_kind kind) {
    return kind == HESSE_LAYER_RELU || kind == HESSE_LAYER_TANH || kind == HESSE_LAYER_SIGMOID ||
           kind == HESSE_LAYER_GELU;
}

#endif
