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
    int num_buffers;
    hesse_tensor_info *buffer_info; /* views into buffers */
    int64_t nbuf;
    double *buffers; /* batch norm's running statistics, num_batches_tracked as a double */
};

/* Parses an architecture string (or a preset) and resolves shapes from the input (c, h, w)
 * and every layer's parameter counts; parameter and buffer offsets are left for the caller. */
int nn_parse_arch(const char *arch, int c, int h, int w, hesse_layer **layers, int *count,
                  char **canonical);

/* The architecture string of a preset (presets.c): *out is malloc'd, or NULL when `arch` is
 * not a preset name. HESSE_EINPUT for a preset with bad arguments. */
int nn_expand_preset(const char *arch, char **out);

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
 * adaptive_forward/_backward  adaptive average pooling [B, C, H, W] -> [B, C, Ho, Wo] with
 *                        PyTorch's windows; backward adds
 * Batch norm in evaluation mode, x [B, C, P] (P = H*W, 1 for batchnorm1d), with mean and var
 * the running statistics (double) and gamma, beta the affine parameters (NULL: none), so that
 * y = gamma xh + beta, xh = (x - mean) / sqrt(var + eps):
 * bn_forward             y
 * bn_backward            gx = gamma / sqrt(var + eps) gy (gx may be NULL);
 *                        ggamma += sum gy xh, gbeta += sum gy (either may be NULL)
 * bn_rforward            Ry = gamma / sqrt(var + eps) Rx + Vgamma xh + Vbeta (Rx NULL: zero;
 *                        Vgamma, Vbeta NULL: none)
 * bn_rbackward           Rgx = gamma / sqrt(var + eps) Rgy + Vgamma / sqrt(var + eps) gy;
 *                        Hgamma += sum Rgy xh + gy Rx / sqrt(var + eps); Hbeta += sum Rgy;
 *                        gy = NULL drops the second-order terms (GGN), Rx = NULL: zero
 * Layer norm over groups of G = L->group consecutive values, weight w and bias b of G values
 * (NULL: none): y = w xh + b, xh = (x - mean) / sqrt(var + eps) per group (biased variance).
 * ln_forward, ln_backward, ln_rforward, ln_rbackward as for batch norm; the R-backward adds the
 * second-order term of xh in x (it is not linear in x), see kernels.inc */
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
    void nn_adaptive_forward_##S(const hesse_layer *L, int B, const real *x, real *y);             \
    void nn_adaptive_backward_##S(const hesse_layer *L, int B, const real *gy, real *gx);          \
    void nn_bn_forward_##S(const hesse_layer *L, int B, const real *x, const double *mean,         \
                           const double *var, const real *gamma, const real *beta, real *y);       \
    void nn_bn_backward_##S(const hesse_layer *L, int B, const real *x, const double *mean,        \
                            const double *var, const real *gamma, const real *gy, real *gx,        \
                            real *ggamma, real *gbeta);                                            \
    void nn_bn_rforward_##S(const hesse_layer *L, int B, const real *x, const double *mean,        \
                            const double *var, const real *gamma, const real *rx,                  \
                            const real *vgamma, const real *vbeta, real *ry);                      \
    void nn_bn_rbackward_##S(const hesse_layer *L, int B, const real *x, const double *mean,       \
                             const double *var, const real *gamma, const real *gy, const real *rx, \
                             const real *vgamma, const real *rgy, real *rgx, real *hgamma,         \
                             real *hbeta);                                                         \
    void nn_ln_forward_##S(const hesse_layer *L, int B, const real *x, const real *w,              \
                           const real *b, real *y);                                                \
    void nn_ln_backward_##S(const hesse_layer *L, int B, const real *x, const real *w,             \
                            const real *gy, real *gx, real *gw, real *gb);                         \
    void nn_ln_rforward_##S(const hesse_layer *L, int B, const real *x, const real *w,             \
                            const real *rx, const real *vw, const real *vb, real *ry);             \
    void nn_ln_rbackward_##S(const hesse_layer *L, int B, const real *x, const real *w,            \
                             const real *gy, const real *rx, const real *vw, const real *rgy,      \
                             real *rgx, real *hw, real *hb);
NN_KERNELS(double, f64)
NN_KERNELS(float, f32)

#endif
