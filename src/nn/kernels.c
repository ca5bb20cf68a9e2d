/* Layer kernels: plain functions over row-major arrays, with their shapes in comments.
 * They assume valid shapes (the engine checks once, at creation). */
#include "nn/nn-impl.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void nn_linear_forward(int B, int in, int out, const double *x, const double *W, const double *b,
                       double beta, double *y) {
    /* y [B, out] = x [B, in] W^T [in, out] (+ beta y) */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.0, x, in, W, in, beta, y,
                out);
    if (b)
        for (int i = 0; i < B; i++) {
            double *row = y + (int64_t)i * out;
            for (int o = 0; o < out; o++) row[o] += b[o];
        }
}

void nn_linear_backward_input(int B, int in, int out, const double *gy, const double *W,
                              double beta, double *gx) {
    /* gx [B, in] = gy [B, out] W [out, in] (+ beta gx) */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.0, gy, out, W, in, beta,
                gx, in);
}

void nn_linear_backward_params(int B, int in, int out, const double *x, const double *gy,
                               double *gW, double *gb) {
    /* gW [out, in] += gy^T [out, B] x [B, in] */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.0, gy, out, x, in, 1.0, gW,
                in);
    if (gb)
        for (int i = 0; i < B; i++) {
            const double *row = gy + (int64_t)i * out;
            for (int o = 0; o < out; o++) gb[o] += row[o];
        }
}

/* The output columns ox whose input column ox * sw - pw + kj lies inside [0, W): [lo, hi). */
static void valid_range(int Wo, int W, int sw, int pw, int kj, int *lo, int *hi) {
    int first = pw - kj; /* ox * sw >= first */
    *lo = first <= 0 ? 0 : (first + sw - 1) / sw;
    int last = W - 1 + pw - kj; /* ox * sw <= last */
    *hi = last < 0 ? 0 : last / sw + 1;
    if (*hi > Wo) *hi = Wo;
    if (*lo > *hi) *lo = *hi;
}

void nn_im2col(const hesse_layer *L, int B, const double *x, double *cols) {
    const int C = L->in_c, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const int64_t P = (int64_t)Ho * Wo, BP = (int64_t)B * P, HW = (int64_t)H * W;
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < L->kh; ki++)
            for (int kj = 0; kj < L->kw; kj++) {
                double *row = cols + ((int64_t)(c * L->kh + ki) * L->kw + kj) * BP;
                int lo, hi;
                valid_range(Wo, W, L->sw, L->pw, kj, &lo, &hi);
                for (int b = 0; b < B; b++) {
                    const double *plane = x + ((int64_t)b * C + c) * HW;
                    double *dst = row + b * P;
                    for (int oy = 0; oy < Ho; oy++) {
                        int iy = oy * L->sh - L->ph + ki;
                        double *d = dst + (int64_t)oy * Wo;
                        if (iy < 0 || iy >= H) {
                            memset(d, 0, (size_t)Wo * sizeof *d);
                            continue;
                        }
                        /* input column of ox: ox * sw - pw + kj, inside [0, W) for lo..hi */
                        const double *src = plane + (int64_t)iy * W;
                        const int shift = kj - L->pw;
                        for (int ox = 0; ox < lo; ox++) d[ox] = 0.0;
                        if (L->sw == 1 && hi > lo)
                            memcpy(d + lo, src + lo + shift, (size_t)(hi - lo) * sizeof *d);
                        else
                            for (int ox = lo; ox < hi; ox++) d[ox] = src[ox * L->sw + shift];
                        for (int ox = hi; ox < Wo; ox++) d[ox] = 0.0;
                    }
                }
            }
}

void nn_col2im(const hesse_layer *L, int B, const double *gcols, double *gx) {
    const int C = L->in_c, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const int64_t P = (int64_t)Ho * Wo, BP = (int64_t)B * P, HW = (int64_t)H * W;
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < L->kh; ki++)
            for (int kj = 0; kj < L->kw; kj++) {
                const double *row = gcols + ((int64_t)(c * L->kh + ki) * L->kw + kj) * BP;
                int lo, hi;
                valid_range(Wo, W, L->sw, L->pw, kj, &lo, &hi);
                for (int b = 0; b < B; b++) {
                    double *plane = gx + ((int64_t)b * C + c) * HW;
                    const double *src = row + b * P;
                    for (int oy = 0; oy < Ho; oy++) {
                        int iy = oy * L->sh - L->ph + ki;
                        if (iy < 0 || iy >= H) continue;
                        double *dst = plane + (int64_t)iy * W;
                        const double *sv = src + (int64_t)oy * Wo;
                        const int shift = kj - L->pw;
                        if (L->sw == 1)
                            for (int ox = lo; ox < hi; ox++) dst[ox + shift] += sv[ox];
                        else
                            for (int ox = lo; ox < hi; ox++) dst[ox * L->sw + shift] += sv[ox];
                    }
                }
            }
}

void nn_bcp_to_cbp(int B, int C, int P, const double *src, double *dst) {
    const int64_t BP = (int64_t)B * P;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(dst + c * BP + (int64_t)b * P, src + ((int64_t)b * C + c) * P,
                   (size_t)P * sizeof *dst);
}

void nn_cbp_to_bcp(int B, int C, int P, const double *src, int accumulate, double *dst) {
    const int64_t BP = (int64_t)B * P;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const double *s = src + c * BP + (int64_t)b * P;
            double *d = dst + ((int64_t)b * C + c) * P;
            if (accumulate)
                for (int p = 0; p < P; p++) d[p] += s[p];
            else
                memcpy(d, s, (size_t)P * sizeof *d);
        }
}

/* Max pooling without padding: every window lies inside the input (the output size rounds
 * down), so the scan needs no bounds checks. Same first-maximum and NaN rules. */
static void maxpool_unpadded(const hesse_layer *L, int B, const double *x, double *y,
                             int32_t *idx) {
    const int C = L->in_c, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const int kh = L->kh, kw = L->kw, sh = L->sh, sw = L->sw;
    const int64_t HW = (int64_t)H * W, P = (int64_t)Ho * Wo;
    for (int64_t bc = 0; bc < (int64_t)B * C; bc++) {
        const double *plane = x + bc * HW;
        const int32_t base = (int32_t)((bc % C) * HW); /* index within the sample */
        double *yo = y + bc * P;
        int32_t *io = idx + bc * P;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                int32_t at = (int32_t)(oy * sh * W + ox * sw);
                double best = plane[at];
                for (int ki = 0; ki < kh; ki++) {
                    const double *row = plane + (int64_t)(oy * sh + ki) * W + ox * sw;
                    const int32_t row_at = (int32_t)((oy * sh + ki) * W + ox * sw);
                    for (int kj = ki == 0 ? 1 : 0; kj < kw; kj++) {
                        /* as the general scan, without branches (the comparison outcome is
                         * data-dependent and mispredicts half the time) */
                        double v = row[kj];
                        int take = (v > best) | (v != v);
                        best = take ? v : best;
                        at = take ? row_at + kj : at;
                    }
                }
                yo[(int64_t)oy * Wo + ox] = best;
                io[(int64_t)oy * Wo + ox] = base + at;
            }
    }
}

void nn_maxpool_forward(const hesse_layer *L, int B, const double *x, double *y, int32_t *idx) {
    if (L->ph == 0 && L->pw == 0) {
        maxpool_unpadded(L, B, x, y, idx);
        return;
    }
    const int C = L->in_c, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const int64_t in = (int64_t)C * H * W, out = (int64_t)C * Ho * Wo;
    for (int b = 0; b < B; b++) {
        const double *xs = x + b * in;
        double *ys = y + b * out;
        int32_t *is = idx + b * out;
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double best = -INFINITY;
                    int32_t at = -1;
                    for (int ki = 0; ki < L->kh; ki++) {
                        int iy = oy * L->sh - L->ph + ki;
                        if (iy < 0 || iy >= H) continue;
                        for (int kj = 0; kj < L->kw; kj++) {
                            int ix = ox * L->sw - L->pw + kj;
                            if (ix < 0 || ix >= W) continue;
                            int32_t i = (int32_t)(((int64_t)c * H + iy) * W + ix);
                            /* First maximum in scan order; NaN wins, as in PyTorch. */
                            if (at < 0 || xs[i] > best || isnan(xs[i])) {
                                best = xs[i];
                                at = i;
                            }
                        }
                    }
                    int64_t o = ((int64_t)c * Ho + oy) * Wo + ox;
                    ys[o] = best;
                    is[o] = at;
                }
    }
}

void nn_maxpool_gather(const hesse_layer *L, int B, const double *x, const int32_t *idx,
                       double *y) {
    const int64_t in = nn_in_size(L), out = nn_out_size(L);
    for (int b = 0; b < B; b++)
        for (int64_t o = 0; o < out; o++) y[b * out + o] = x[b * in + idx[b * out + o]];
}

void nn_maxpool_scatter(const hesse_layer *L, int B, const double *gy, const int32_t *idx,
                        double *gx) {
    const int64_t in = nn_in_size(L), out = nn_out_size(L);
    for (int b = 0; b < B; b++)
        for (int64_t o = 0; o < out; o++) gx[b * in + idx[b * out + o]] += gy[b * out + o];
}

void nn_avgpool_forward(const hesse_layer *L, int B, const double *x, double *y) {
    const int C = L->in_c, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const int64_t in = (int64_t)C * H * W, out = (int64_t)C * Ho * Wo;
    /* count_include_pad: with ceil_mode off every window lies inside the padded input, so
     * the divisor is always kh * kw. */
    const double inv = 1.0 / (L->kh * L->kw);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double s = 0.0;
                    for (int ki = 0; ki < L->kh; ki++) {
                        int iy = oy * L->sh - L->ph + ki;
                        if (iy < 0 || iy >= H) continue;
                        for (int kj = 0; kj < L->kw; kj++) {
                            int ix = ox * L->sw - L->pw + kj;
                            if (ix >= 0 && ix < W) s += x[b * in + ((int64_t)c * H + iy) * W + ix];
                        }
                    }
                    y[b * out + ((int64_t)c * Ho + oy) * Wo + ox] = s * inv;
                }
}

void nn_avgpool_backward(const hesse_layer *L, int B, const double *gy, double *gx) {
    const int C = L->in_c, H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    const int64_t in = (int64_t)C * H * W, out = (int64_t)C * Ho * Wo;
    const double inv = 1.0 / (L->kh * L->kw);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double g = gy[b * out + ((int64_t)c * Ho + oy) * Wo + ox] * inv;
                    for (int ki = 0; ki < L->kh; ki++) {
                        int iy = oy * L->sh - L->ph + ki;
                        if (iy < 0 || iy >= H) continue;
                        for (int kj = 0; kj < L->kw; kj++) {
                            int ix = ox * L->sw - L->pw + kj;
                            if (ix >= 0 && ix < W) gx[b * in + ((int64_t)c * H + iy) * W + ix] += g;
                        }
                    }
                }
}

/* GELU in PyTorch's exact form: x * Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2. */
static inline double gelu_cdf(double x) {
    return 0.5 * (1.0 + erf(x * 0.70710678118654752440));
}
static inline double gelu_pdf(double x) {
    return 0.39894228040143267794 * exp(-0.5 * x * x);
}

void nn_activation_forward(hesse_layer_kind kind, int64_t count, const double *x, double *y) {
    switch (kind) {
    case HESSE_LAYER_RELU:
        for (int64_t i = 0; i < count; i++) y[i] = x[i] > 0.0 ? x[i] : 0.0;
        break;
    case HESSE_LAYER_TANH:
        for (int64_t i = 0; i < count; i++) y[i] = tanh(x[i]);
        break;
    case HESSE_LAYER_SIGMOID:
        for (int64_t i = 0; i < count; i++) y[i] = 1.0 / (1.0 + exp(-x[i]));
        break;
    case HESSE_LAYER_GELU:
        for (int64_t i = 0; i < count; i++) y[i] = x[i] * gelu_cdf(x[i]);
        break;
    default:
        break;
    }
}

void nn_activation_jvp(hesse_layer_kind kind, int64_t count, const double *x, const double *y,
                       const double *v, double *out) {
    switch (kind) {
    case HESSE_LAYER_RELU: /* derivative 0 at 0, as PyTorch */
        for (int64_t i = 0; i < count; i++) out[i] = x[i] > 0.0 ? v[i] : 0.0;
        break;
    case HESSE_LAYER_TANH:
        for (int64_t i = 0; i < count; i++) out[i] = (1.0 - y[i] * y[i]) * v[i];
        break;
    case HESSE_LAYER_SIGMOID:
        for (int64_t i = 0; i < count; i++) out[i] = y[i] * (1.0 - y[i]) * v[i];
        break;
    case HESSE_LAYER_GELU:
        for (int64_t i = 0; i < count; i++)
            out[i] = (gelu_cdf(x[i]) + x[i] * gelu_pdf(x[i])) * v[i];
        break;
    default:
        break;
    }
}

void nn_activation_rback(hesse_layer_kind kind, int64_t count, const double *x, const double *y,
                         const double *gy, const double *rx, const double *rgy, double *rgx) {
    nn_activation_jvp(kind, count, x, y, rgy, rgx);
    if (!rx) return;
    /* Second-derivative term f''(x) * rx * gy. */
    switch (kind) {
    case HESSE_LAYER_TANH: /* f'' = -2 y (1 - y^2) */
        for (int64_t i = 0; i < count; i++)
            rgx[i] += -2.0 * y[i] * (1.0 - y[i] * y[i]) * rx[i] * gy[i];
        break;
    case HESSE_LAYER_SIGMOID: /* f'' = y (1 - y) (1 - 2y) */
        for (int64_t i = 0; i < count; i++)
            rgx[i] += y[i] * (1.0 - y[i]) * (1.0 - 2.0 * y[i]) * rx[i] * gy[i];
        break;
    case HESSE_LAYER_GELU: /* f'' = phi(x) (2 - x^2) */
        for (int64_t i = 0; i < count; i++)
            rgx[i] += gelu_pdf(x[i]) * (2.0 - x[i] * x[i]) * rx[i] * gy[i];
        break;
    default:
        break; /* ReLU: f'' = 0 almost everywhere */
    }
}
