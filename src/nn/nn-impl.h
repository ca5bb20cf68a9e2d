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

/* ---- Kernels (nn/kernels.c). Row-major; B is the number of samples. Kernels assume valid
 * shapes. "+=" kernels accumulate so that callers choose when to zero. ---- */

/* x: [B, in], W: [out, in], b: [out] or NULL -> y: [B, out] = x W^T + b  (beta: 0 overwrite,
 * 1 accumulate; the bias is added in both cases) */
void nn_linear_forward(int B, int in, int out, const double *x, const double *W, const double *b,
                       double beta, double *y);
/* gy: [B, out], W: [out, in] -> gx: [B, in] = gy W (+ beta gx) */
void nn_linear_backward_input(int B, int in, int out, const double *gy, const double *W,
                              double beta, double *gx);
/* gW: [out, in] += gy^T x;  gb: [out] += sum_b gy (gb may be NULL) */
void nn_linear_backward_params(int B, int in, int out, const double *x, const double *gy,
                               double *gW, double *gb);

/* im2col over B samples of L's input: x [B, Cin, H, W] -> cols [K, B*P] with K = Cin*kh*kw
 * (row order matches W's [Cout, Cin, kh, kw]) and P = Ho*Wo; padding reads as zero. */
void nn_im2col(const hesse_layer *L, int B, const double *x, double *cols);
/* The adjoint: gx [B, Cin, H, W] += col2im(gcols [K, B*P]). */
void nn_col2im(const hesse_layer *L, int B, const double *gcols, double *gx);
/* [B, C, P] -> [C, B*P] and back; the inverse adds into dst when accumulate is set. */
void nn_bcp_to_cbp(int B, int C, int P, const double *src, double *dst);
void nn_cbp_to_bcp(int B, int C, int P, const double *src, int accumulate, double *dst);

/* Pooling over [B, C, H, W] -> [B, C, Ho, Wo]. Max pooling records the arg-max (index into
 * the sample's input, first maximum in scan order as PyTorch) in idx [B, C*Ho*Wo]. */
void nn_maxpool_forward(const hesse_layer *L, int B, const double *x, double *y, int32_t *idx);
/* y [B, out] = x gathered at idx (the R-forward of max pooling). */
void nn_maxpool_gather(const hesse_layer *L, int B, const double *x, const int32_t *idx, double *y);
/* gx [B, in] += scatter of gy by idx (gx zeroed by the caller). */
void nn_maxpool_scatter(const hesse_layer *L, int B, const double *gy, const int32_t *idx,
                        double *gx);
/* Average pooling with count_include_pad = True (PyTorch's default). */
void nn_avgpool_forward(const hesse_layer *L, int B, const double *x, double *y);
/* gx [B, in] += adjoint of average pooling applied to gy (gx zeroed by the caller). */
void nn_avgpool_backward(const hesse_layer *L, int B, const double *gy, double *gx);

/* Element-wise activations over count values, given the input x and output y = f(x):
 * y = f(x);  out = f'(x) * v (the backward and the R-forward);
 * rgx = f'(x) * rgy + f''(x) * rx * gy (the R-backward; drop the second term for the GGN by
 * passing rx = NULL). */
void nn_activation_forward(hesse_layer_kind kind, int64_t count, const double *x, double *y);
void nn_activation_jvp(hesse_layer_kind kind, int64_t count, const double *x, const double *y,
                       const double *v, double *out);
void nn_activation_rback(hesse_layer_kind kind, int64_t count, const double *x, const double *y,
                         const double *gy, const double *rx, const double *rgy, double *rgx);

static inline int nn_is_activation(hesse_layer_kind kind) {
    return kind == HESSE_LAYER_RELU || kind == HESSE_LAYER_TANH || kind == HESSE_LAYER_SIGMOID ||
           kind == HESSE_LAYER_GELU;
}

#endif
