/* The passes over one chunk of samples: forward, loss, backward, and the R-operator passes
 * that give exact Hessian-vector and Gauss-Newton-vector products (engine-impl.h).
 *
 * Notation for layer l (input a_l, output a_{l+1}, parameters W_l, b_l):
 *   forward      a_{l+1} = f_l(a_l; W_l)
 *   backward     g_l = J_a^T g_{l+1},  grad W_l = J_W^T g_{l+1},  g_L = dL/d(logits)
 *   R-forward    Ra_{l+1} = J_a Ra_l + J_W V_l                     (Pearlmutter 1994)
 *   R-backward   Rg_L = A Ra_L with A the Hessian of the loss in the logits,
 *                Rg_l = J_a^T Rg_{l+1} + [second-order terms of f_l along (Ra_l, V_l)] g_{l+1},
 *                (H V)_l = J_W^T Rg_{l+1} + [second-order terms] g_{l+1}.
 * Dropping every second-order term leaves J^T A J V: the generalised Gauss-Newton product.
 *
 * Block layout: the k vectors' R-quantities are stacked as k*B samples, [k][B][size], so that
 * the terms in the layer's own weights are single wide GEMMs. */
#include "nn/engine-impl.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* 1 when layer l is a ReLU feeding a max pool: every pass treats the pair as one step. */
static int relu_then_maxpool(const hesse_model *m, int l) {
    return m->layers[l].kind == HESSE_LAYER_RELU && l + 1 < m->num_layers &&
           m->layers[l + 1].kind == HESSE_LAYER_MAXPOOL2D;
}

void nn_forward_chunk(const hesse_engine *e, nn_work *w, int B, const double *x) {
    const hesse_model *m = e->m;
    const double *theta = m->params;
    w->a[0] = x;
    for (int l = 0; l < e->L; l++) {
        const hesse_layer *Ly = &m->layers[l];
        const double *in = w->a[l];
        double *out = w->st.act[l + 1];
        const double *W = theta + Ly->weight_offset;
        const double *bias = Ly->bias_count ? theta + Ly->bias_offset : NULL;
        switch (Ly->kind) {
        case HESSE_LAYER_LINEAR:
            nn_linear_forward(B, Ly->in_c, Ly->out_c, in, W, bias, 0.0, out);
            break;
        case HESSE_LAYER_CONV2D: {
            /* tmp [Cout, B*P] = W [Cout, K] cols [K, B*P] */
            const int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly);
            nn_im2col(Ly, B, in, w->st.cols[l]);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Ly->out_c, (int)(B * P), (int)K,
                        1.0, W, (int)K, w->st.cols[l], (int)(B * P), 0.0, w->tmp, (int)(B * P));
            nn_cbp_to_bcp(B, Ly->out_c, (int)P, w->tmp, 0, out);
            if (bias)
                for (int b = 0; b < B; b++)
                    for (int c = 0; c < Ly->out_c; c++) {
                        double *d = out + ((int64_t)b * Ly->out_c + c) * P;
                        for (int64_t p = 0; p < P; p++) d[p] += bias[c];
                    }
            break;
        }
        case HESSE_LAYER_MAXPOOL2D:
            nn_maxpool_forward(Ly, B, in, out, w->st.argmax[l]);
            break;
        case HESSE_LAYER_AVGPOOL2D:
            nn_avgpool_forward(Ly, B, in, out);
            break;
        case HESSE_LAYER_FLATTEN:
            w->a[l + 1] = in;
            continue;
        default:
            if (relu_then_maxpool(m, l)) {
                /* max pooling commutes with ReLU (both monotone): pool the ReLU's input, then
                 * clip the pooled values. The arg-max can differ from pooling the ReLU's output
                 * only where the window's maximum is <= 0, where ReLU's derivative is 0 either
                 * way, so every derivative is unchanged. The ReLU's own output is not formed. */
                double *pooled = w->st.act[l + 2];
                nn_maxpool_forward(&m->layers[l + 1], B, in, pooled, w->st.argmax[l + 1]);
                for (int64_t i = 0; i < (int64_t)B * e->size[l + 2]; i++)
                    if (!(pooled[i] > 0.0) && !isnan(pooled[i])) pooled[i] = 0.0;
                w->a[l + 1] = NULL;
                w->a[l + 2] = pooled;
                l++;
                continue;
            }
            nn_activation_forward(Ly->kind, (int64_t)B * e->size[l + 1], in, out);
            break;
        }
        w->a[l + 1] = out;
    }
}

/* Loss of each sample from the logits; fills w->st.probs (cross-entropy) and the gradient of
 * the mean loss in the logits, g[L] = scale * dl/dz. Returns the index of the first sample
 * with a non-finite loss, or -1. */
int64_t nn_loss_chunk(const hesse_engine *e, nn_work *w, int B, const int32_t *y, double scale,
                      double *sum, int64_t *correct) {
    const int C = e->C;
    const double *z = w->a[e->L];
    double *gz = w->st.grad[e->L];
    w->g[e->L] = gz;
    for (int b = 0; b < B; b++) {
        const double *zb = z + (int64_t)b * C;
        double *gb = gz + (int64_t)b * C;
        int arg = 0;
        for (int c = 1; c < C; c++)
            if (zb[c] > zb[arg]) arg = c;
        if (correct && arg == y[b]) (*correct)++;
        double lb;
        if (e->m->loss == HESSE_LOSS_CROSS_ENTROPY) {
            /* l = logsumexp(z) - z_y, p = softmax(z), dl/dz = p - e_y */
            double zmax = zb[arg], s = 0.0;
            for (int c = 0; c < C; c++) s += exp(zb[c] - zmax);
            double lse = zmax + log(s);
            lb = lse - zb[y[b]];
            double *pb = w->st.probs + (int64_t)b * C;
            for (int c = 0; c < C; c++) {
                pb[c] = exp(zb[c] - lse);
                gb[c] = scale * (pb[c] - (c == y[b]));
            }
        } else {
            /* l = sum_c (z_c - t_c)^2 with t the one-hot label; dl/dz = 2 (z - t) */
            lb = 0.0;
            for (int c = 0; c < C; c++) {
                double r = zb[c] - (c == y[b]);
                lb += r * r;
                gb[c] = scale * 2.0 * r;
            }
        }
        if (!isfinite(lb)) return b;
        *sum += lb;
    }
    return -1;
}

/* Back-propagates g[L] to every layer's output gradient g[l], l > first_param, and adds the
 * parameter gradient to pgrad when it is not NULL. */
void nn_backward_chunk(const hesse_engine *e, nn_work *w, int B, double *pgrad) {
    const hesse_model *m = e->m;
    const double *theta = m->params;
    for (int l = e->L - 1; l >= e->first_param; l--) {
        const hesse_layer *Ly = &m->layers[l];
        const double *x = w->a[l], *gy = w->g[l + 1];
        const int need_gx = l > e->first_param;
        double *gx = w->st.grad[l];
        const double *W = theta + Ly->weight_offset;
        switch (Ly->kind) {
        case HESSE_LAYER_LINEAR:
            if (pgrad)
                nn_linear_backward_params(B, Ly->in_c, Ly->out_c, x, gy, pgrad + Ly->weight_offset,
                                          Ly->bias_count ? pgrad + Ly->bias_offset : NULL);
            if (need_gx) nn_linear_backward_input(B, Ly->in_c, Ly->out_c, gy, W, 0.0, gx);
            break;
        case HESSE_LAYER_CONV2D: {
            const int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly), BP = B * P;
            const int Co = Ly->out_c;
            nn_bcp_to_cbp(B, Co, (int)P, gy, w->gyp);
            if (pgrad) {
                /* gW [Cout, K] += gy [Cout, B*P] cols^T [B*P, K] */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, (int)K, (int)BP, 1.0,
                            w->gyp, (int)BP, w->st.cols[l], (int)BP, 1.0, pgrad + Ly->weight_offset,
                            (int)K);
                if (Ly->bias_count)
                    for (int c = 0; c < Co; c++) {
                        double s = 0.0;
                        for (int64_t i = 0; i < BP; i++) s += w->gyp[c * BP + i];
                        pgrad[Ly->bias_offset + c] += s;
                    }
            }
            if (need_gx) {
                /* gcols [K, B*P] = W^T [K, Cout] gy [Cout, B*P], then the adjoint of im2col */
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)BP, Co, 1.0, W,
                            (int)K, w->gyp, (int)BP, 0.0, w->gcols, (int)BP);
                memset(gx, 0, (size_t)(B * e->size[l]) * sizeof *gx);
                nn_col2im(Ly, B, w->gcols, gx);
            }
            break;
        }
        case HESSE_LAYER_MAXPOOL2D:
            if (l - 1 > e->first_param && relu_then_maxpool(m, l - 1)) {
                /* back through the pool and the ReLU before it at once (see the forward) */
                const double *xr = w->a[l - 1];
                const int32_t *idx = w->st.argmax[l];
                const int64_t in = e->size[l], out = e->size[l + 1];
                double *gr = w->st.grad[l - 1];
                memset(gr, 0, (size_t)(B * in) * sizeof *gr);
                for (int b = 0; b < B; b++) {
                    const double *xb = xr + (int64_t)b * in, *gb = gy + (int64_t)b * out;
                    const int32_t *ib = idx + (int64_t)b * out;
                    double *d = gr + (int64_t)b * in;
                    for (int64_t o = 0; o < out; o++)
                        if (xb[ib[o]] > 0.0) d[ib[o]] += gb[o];
                }
                w->g[l] = NULL; /* the ReLU's output gradient is not formed */
                w->g[l - 1] = gr;
                l--;
                continue;
            }
            memset(gx, 0, (size_t)(B * e->size[l]) * sizeof *gx);
            nn_maxpool_scatter(Ly, B, gy, w->st.argmax[l], gx);
            break;
        case HESSE_LAYER_AVGPOOL2D:
            memset(gx, 0, (size_t)(B * e->size[l]) * sizeof *gx);
            nn_avgpool_backward(Ly, B, gy, gx);
            break;
        case HESSE_LAYER_FLATTEN:
            w->g[l] = (double *)gy;
            continue;
        default:
            nn_activation_jvp(Ly->kind, (int64_t)B * e->size[l + 1], x, w->a[l + 1], gy, gx);
            break;
        }
        w->g[l] = gx;
    }
}

/* R-forward for k directions V (column j at V + j*n): ra[l+1] for l >= first_param. */
/* ---- Block helpers: the k vectors' terms as single wide GEMMs -------------------------- */

/* Y_j[off + r * cols + c] += T[j * sj + r * sr + c * sc] for j < k, r < rows, c < cols:
 * adds the blocks of a stacked GEMM result into the k output columns. */
static void add_blocks(int k, int64_t rows, int64_t cols, const double *T, int64_t sj, int64_t sr,
                       int64_t sc, double *Y, int64_t n, int64_t off) {
    for (int j = 0; j < k; j++)
        for (int64_t r = 0; r < rows; r++) {
            double *y = Y + j * n + off + r * cols;
            const double *t = T + j * sj + r * sr;
            if (sc == 1)
                for (int64_t c = 0; c < cols; c++) y[c] += t[c];
            else
                for (int64_t c = 0; c < cols; c++) y[c] += t[c * sc];
        }
}

/* [k][B][d] -> [B][k * d]: the k vectors of each sample side by side. */
static void interleave(int k, int B, int64_t d, const double *src, double *dst) {
    for (int j = 0; j < k; j++)
        for (int b = 0; b < B; b++)
            memcpy(dst + ((int64_t)b * k + j) * d, src + ((int64_t)j * B + b) * d,
                   (size_t)d * sizeof *dst);
}

/* The k weight directions VW_j ([rows, cols] each, at V + j*n + off) stacked as rows
 * [(j, r), c] (transposed = 0) or side by side [r, (j, c)] (transposed = 1). */
static void stack_weights(int k, int64_t rows, int64_t cols, const double *V, int64_t n,
                          int64_t off, int side_by_side, double *dst) {
    for (int j = 0; j < k; j++)
        for (int64_t r = 0; r < rows; r++) {
            const double *v = V + j * n + off + r * cols;
            double *d = side_by_side ? dst + (r * k + j) * cols : dst + (j * rows + r) * cols;
            memcpy(d, v, (size_t)cols * sizeof *d);
        }
}

void nn_rforward_chunk(const hesse_engine *e, nn_work *w, int B, int k, const double *V) {
    const hesse_model *m = e->m;
    const double *theta = m->params;
    const int64_t n = m->n;
    for (int l = e->first_param; l < e->L; l++) {
        const hesse_layer *Ly = &m->layers[l];
        const int rx_zero = l == e->first_param; /* nothing before it depends on theta */
        const double *x = w->a[l], *Rx = w->ra[l];
        double *Ry = w->ract[l + 1];
        const int64_t in = e->size[l], out = e->size[l + 1];
        const double *W = theta + Ly->weight_offset;
        switch (Ly->kind) {
        case HESSE_LAYER_LINEAR: {
            /* Ry_j = Rx_j W^T + x VW_j^T + Vb_j; each term for all j in one GEMM */
            const int ni = Ly->in_c, no = Ly->out_c;
            if (!rx_zero) nn_linear_forward(k * B, ni, no, Rx, W, NULL, 0.0, Ry);
            if (k == 1) {
                nn_linear_forward(B, ni, no, x, V + Ly->weight_offset,
                                  Ly->bias_count ? V + Ly->bias_offset : NULL, rx_zero ? 0.0 : 1.0,
                                  Ry);
                break;
            }
            /* T [B, k*out] = x [B, in] [VW_1; ...; VW_k]^T */
            stack_weights(k, no, ni, V, n, Ly->weight_offset, 0, w->vstack);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, k * no, ni, 1.0, x, ni,
                        w->vstack, ni, 0.0, w->perm, k * no);
            for (int j = 0; j < k; j++) {
                const double *vb = Ly->bias_count ? V + j * n + Ly->bias_offset : NULL;
                for (int b = 0; b < B; b++) {
                    double *ry = Ry + ((int64_t)j * B + b) * no;
                    const double *t = w->perm + ((int64_t)b * k + j) * no;
                    for (int o = 0; o < no; o++)
                        ry[o] = (rx_zero ? 0.0 : ry[o]) + t[o] + (vb ? vb[o] : 0.0);
                }
            }
            break;
        }
        case HESSE_LAYER_CONV2D: {
            const int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly), BP = B * P;
            const int Co = Ly->out_c;
            if (!rx_zero) {
                /* conv(Rx, W): the k*B R-inputs as one batch */
                nn_im2col(Ly, k * B, Rx, w->rcols[l]);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, (int)(k * BP), (int)K,
                            1.0, W, (int)K, w->rcols[l], (int)(k * BP), 0.0, w->tmp, (int)(k * BP));
                nn_cbp_to_bcp(k * B, Co, (int)P, w->tmp, 0, Ry);
            }
            /* conv(x, VW_j) for all j: [k*Cout, K] x cols [K, B*P] */
            for (int j = 0; j < k; j++)
                memcpy(w->vstack + j * Ly->weight_count, V + j * n + Ly->weight_offset,
                       (size_t)Ly->weight_count * sizeof(double));
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k * Co, (int)BP, (int)K, 1.0,
                        w->vstack, (int)K, w->st.cols[l], (int)BP, 0.0, w->tmp, (int)BP);
            for (int j = 0; j < k; j++) {
                double *Ryj = Ry + j * B * out;
                nn_cbp_to_bcp(B, Co, (int)P, w->tmp + j * Co * BP, !rx_zero, Ryj);
                if (Ly->bias_count) {
                    const double *vb = V + j * n + Ly->bias_offset;
                    for (int b = 0; b < B; b++)
                        for (int c = 0; c < Co; c++) {
                            double *d = Ryj + ((int64_t)b * Co + c) * P;
                            for (int64_t p = 0; p < P; p++) d[p] += vb[c];
                        }
                }
            }
            break;
        }
        case HESSE_LAYER_MAXPOOL2D:
            for (int j = 0; j < k; j++)
                nn_maxpool_gather(Ly, B, Rx + j * B * in, w->st.argmax[l], Ry + j * B * out);
            break;
        case HESSE_LAYER_AVGPOOL2D:
            nn_avgpool_forward(Ly, k * B, Rx, Ry);
            break;
        case HESSE_LAYER_FLATTEN:
            w->ra[l + 1] = (double *)Rx;
            continue;
        default:
            if (relu_then_maxpool(m, l)) {
                /* ReLU then max pooling: only the pooled positions are ever read, so the pool's
                 * R-output is gathered straight from the ReLU's R-input */
                const int64_t po = e->size[l + 2];
                const int32_t *idx = w->st.argmax[l + 1];
                double *Rp = w->ract[l + 2];
                for (int j = 0; j < k; j++)
                    for (int b = 0; b < B; b++) {
                        const double *xb = x + (int64_t)b * in,
                                     *rb = Rx + ((int64_t)j * B + b) * in;
                        const int32_t *ib = idx + (int64_t)b * po;
                        double *d = Rp + ((int64_t)j * B + b) * po;
                        for (int64_t o = 0; o < po; o++) d[o] = xb[ib[o]] > 0.0 ? rb[ib[o]] : 0.0;
                    }
                w->ra[l + 1] = NULL; /* the ReLU's own R-output is never formed */
                w->ra[l + 2] = Rp;
                l++;
                continue;
            }
            for (int j = 0; j < k; j++)
                nn_activation_jvp(Ly->kind, B * out, x, w->a[l + 1], Rx + j * B * in,
                                  Ry + j * B * out);
            break;
        }
        w->ra[l + 1] = Ry;
    }
}

/* R-backward: Y[:, j] += (C V)_j for the chunk. The pass is linear in its two sources, the
 * logit term Rg_L and the layers' second-order terms along (Ra, V) times g, so:
 *   Hessian   Rg_L = A Ra_L,                      second-order terms on
 *   GGN       Rg_L = A Ra_L,                      second-order terms off
 *   residual  Rg_L = 0,                           second-order terms on   (E = H - G)
 *   efisher   Rg_L = N g_L (g_L . Ra_L) per sample, second-order terms off
 * with A the per-sample Hessian of the loss in the logits times the mean's scale, and
 * g_L = scale * dl_i/dz the logit gradient of the mean loss (so N g_L = dl_i/dz). */
void nn_rbackward_chunk(const hesse_engine *e, nn_work *w, int B, int k, const double *V, double *Y,
                        double scale, int64_t N, hesse_curv_kind kind) {
    const hesse_model *m = e->m;
    const double *theta = m->params;
    const int64_t n = m->n;
    const int C = e->C;
    const int hessian = kind == HESSE_CURV_HESSIAN || kind == HESSE_CURV_RESIDUAL;

    double *Rgy = w->rg[0];
    const double *Rz = w->ra[e->L];
    for (int j = 0; j < k; j++)
        for (int b = 0; b < B; b++) {
            const double *r = Rz + ((int64_t)j * B + b) * C;
            double *o = Rgy + ((int64_t)j * B + b) * C;
            if (kind == HESSE_CURV_RESIDUAL) {
                for (int c = 0; c < C; c++) o[c] = 0.0;
            } else if (kind == HESSE_CURV_EFISHER) {
                const double *gz = w->st.grad[e->L] + (int64_t)b * C;
                double dot = 0.0;
                for (int c = 0; c < C; c++) dot += gz[c] * r[c];
                for (int c = 0; c < C; c++) o[c] = (double)N * gz[c] * dot;
            } else if (m->loss == HESSE_LOSS_CROSS_ENTROPY) {
                /* A = diag(p) - p p^T */
                const double *p = w->st.probs + (int64_t)b * C;
                double dot = 0.0;
                for (int c = 0; c < C; c++) dot += p[c] * r[c];
                for (int c = 0; c < C; c++) o[c] = scale * p[c] * (r[c] - dot);
            } else {
                for (int c = 0; c < C; c++) o[c] = scale * 2.0 * r[c]; /* A = 2 I */
            }
        }

    for (int l = e->L - 1; l >= e->first_param; l--) {
        const hesse_layer *Ly = &m->layers[l];
        const int rx_zero = l == e->first_param, need_rgx = l > e->first_param;
        const double *x = w->a[l], *Rx = w->ra[l], *gy = hessian ? w->g[l + 1] : NULL;
        const int64_t in = e->size[l], out = e->size[l + 1];
        const double *W = theta + Ly->weight_offset;
        double *Rgx = Rgy == w->rg[0] ? w->rg[1] : w->rg[0];
        switch (Ly->kind) {
        case HESSE_LAYER_LINEAR: {
            const int ni = Ly->in_c, no = Ly->out_c;
            const int64_t wo = Ly->weight_offset;
            if (k == 1) {
                /* HW += Rgy^T x (+ gy^T Rx);  Hb += sum_b Rgy */
                nn_linear_backward_params(B, ni, no, x, Rgy, Y + wo,
                                          Ly->bias_count ? Y + Ly->bias_offset : NULL);
                if (hessian && !rx_zero) nn_linear_backward_params(B, ni, no, Rx, gy, Y + wo, NULL);
                if (need_rgx) {
                    /* Rgx = Rgy W (+ gy VW) */
                    nn_linear_backward_input(B, ni, no, Rgy, W, 0.0, Rgx);
                    if (hessian) nn_linear_backward_input(B, ni, no, gy, V + wo, 1.0, Rgx);
                }
                break;
            }
            /* HW_j += Rgy_j^T x for all j: [B, k*out]^T [B, in] -> [(j, o), in] */
            interleave(k, B, no, Rgy, w->perm);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k * no, ni, B, 1.0, w->perm,
                        k * no, x, ni, 0.0, w->wbuf, ni);
            add_blocks(k, no, ni, w->wbuf, (int64_t)no * ni, ni, 1, Y, n, wo);
            if (Ly->bias_count)
                for (int j = 0; j < k; j++) {
                    double *Hb = Y + j * n + Ly->bias_offset;
                    for (int b = 0; b < B; b++) {
                        const double *r = Rgy + ((int64_t)j * B + b) * no;
                        for (int o = 0; o < no; o++) Hb[o] += r[o];
                    }
                }
            if (hessian && !rx_zero) {
                /* HW_j += gy^T Rx_j: [out, B] [B, k*in] -> [out, (j, i)] */
                interleave(k, B, ni, Rx, w->perm);
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, k * ni, B, 1.0, gy, no,
                            w->perm, k * ni, 0.0, w->wbuf, k * ni);
                add_blocks(k, no, ni, w->wbuf, ni, (int64_t)k * ni, 1, Y, n, wo);
            }
            if (need_rgx) {
                /* Rgx_j = Rgy_j W for all j in one GEMM; + gy VW_j: [B, out] [out, (j, i)] */
                nn_linear_backward_input(k * B, ni, no, Rgy, W, 0.0, Rgx);
                if (hessian) {
                    stack_weights(k, no, ni, V, n, wo, 1, w->vstack);
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, k * ni, no, 1.0, gy,
                                no, w->vstack, k * ni, 0.0, w->perm, k * ni);
                    for (int j = 0; j < k; j++)
                        for (int b = 0; b < B; b++) {
                            double *r = Rgx + ((int64_t)j * B + b) * ni;
                            const double *t = w->perm + ((int64_t)b * k + j) * ni;
                            for (int i = 0; i < ni; i++) r[i] += t[i];
                        }
                }
            }
            break;
        }
        case HESSE_LAYER_CONV2D: {
            const int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly), BP = B * P, kBP = k * BP;
            const int Co = Ly->out_c;
            const int64_t wo = Ly->weight_offset;
            /* RgyJ [(j, c), B*P]: each vector's output gradient as [Cout, B*P] */
            double *RgyJ = w->tmp;
            for (int j = 0; j < k; j++)
                nn_bcp_to_cbp(B, Co, (int)P, Rgy + j * B * out, RgyJ + (int64_t)j * Co * BP);
            if (hessian) nn_bcp_to_cbp(B, Co, (int)P, gy, w->gyp);
            /* HW_j += Rgy_j cols^T for all j: [(j, c), BP] [BP, K]; cols read once */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k * Co, (int)K, (int)BP, 1.0, RgyJ,
                        (int)BP, w->st.cols[l], (int)BP, 0.0, w->wbuf, (int)K);
            add_blocks(k, Co, K, w->wbuf, (int64_t)Co * K, K, 1, Y, n, wo);
            if (Ly->bias_count)
                for (int j = 0; j < k; j++) {
                    double *Hb = Y + j * n + Ly->bias_offset;
                    for (int c = 0; c < Co; c++) {
                        const double *r = RgyJ + ((int64_t)j * Co + c) * BP;
                        double sum = 0.0;
                        for (int64_t i = 0; i < BP; i++) sum += r[i];
                        Hb[c] += sum;
                    }
                }
            if (hessian && !rx_zero) {
                /* HW_j += gy Rcols_j^T: Rcols [K, k*B*P] is [(kk, j), BP], so one GEMM gives
                 * [Cout, (kk, j)] */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, (int)(K * k), (int)BP, 1.0,
                            w->gyp, (int)BP, w->rcols[l], (int)BP, 0.0, w->wbuf, (int)(K * k));
                add_blocks(k, Co, K, w->wbuf, 1, K * k, k, Y, n, wo);
            }
            if (need_rgx) {
                /* gcols [K, k*B*P] = [(kk, j), BP]: W^T Rgy_j per block j, + VW_j^T gy for all
                 * j in one GEMM with the directions stacked as [(kk, j), Cout]; then col2im */
                for (int j = 0; j < k; j++)
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)BP, Co, 1.0,
                                W, (int)K, RgyJ + (int64_t)j * Co * BP, (int)BP, 0.0,
                                w->gcols + j * BP, (int)kBP);
                if (hessian) {
                    double *A = w->wbuf;
                    for (int j = 0; j < k; j++)
                        for (int c = 0; c < Co; c++)
                            for (int64_t kk = 0; kk < K; kk++)
                                A[(kk * k + j) * Co + c] = V[j * n + wo + c * K + kk];
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(K * k), (int)BP,
                                Co, 1.0, A, Co, w->gyp, (int)BP, 1.0, w->gcols, (int)BP);
                }
                memset(Rgx, 0, (size_t)(k * B * in) * sizeof *Rgx);
                nn_col2im(Ly, k * B, w->gcols, Rgx);
            }
            break;
        }
        case HESSE_LAYER_MAXPOOL2D:
            if (l >= 1 && relu_then_maxpool(m, l - 1)) {
                /* back through the pool and the ReLU before it at once: scatter to the arg-max
                 * positions whose ReLU input is positive (ReLU has no second-order term) */
                const double *xr = w->a[l - 1]; /* the ReLU's input, same shape as its output */
                const int32_t *idx = w->st.argmax[l];
                memset(Rgx, 0, (size_t)(k * B * in) * sizeof *Rgx);
                for (int j = 0; j < k; j++)
                    for (int b = 0; b < B; b++) {
                        const double *xb = xr + (int64_t)b * in,
                                     *rg = Rgy + ((int64_t)j * B + b) * out;
                        const int32_t *ib = idx + (int64_t)b * out;
                        double *d = Rgx + ((int64_t)j * B + b) * in;
                        for (int64_t o = 0; o < out; o++)
                            if (xb[ib[o]] > 0.0) d[ib[o]] += rg[o];
                    }
                Rgy = Rgx;
                l--; /* the ReLU is done */
                continue;
            }
            memset(Rgx, 0, (size_t)(k * B * in) * sizeof *Rgx);
            for (int j = 0; j < k; j++)
                nn_maxpool_scatter(Ly, B, Rgy + j * B * out, w->st.argmax[l], Rgx + j * B * in);
            break;
        case HESSE_LAYER_AVGPOOL2D:
            memset(Rgx, 0, (size_t)(k * B * in) * sizeof *Rgx);
            nn_avgpool_backward(Ly, k * B, Rgy, Rgx);
            break;
        case HESSE_LAYER_FLATTEN:
            continue; /* same values, same layout */
        default:
            for (int j = 0; j < k; j++)
                nn_activation_rback(Ly->kind, B * out, x, w->a[l + 1], gy,
                                    hessian ? Rx + j * B * in : NULL, Rgy + j * B * out,
                                    Rgx + j * B * in);
            break;
        }
        Rgy = Rgx;
    }
}

void nn_restore_pointers(const hesse_engine *e, nn_work *w, const double *x) {
    const hesse_model *m = e->m;
    w->a[0] = x;
    for (int l = 0; l < e->L; l++)
        w->a[l + 1] = m->layers[l].kind == HESSE_LAYER_FLATTEN ? w->a[l] : w->st.act[l + 1];
    w->g[e->L] = w->st.grad[e->L];
    for (int l = e->L - 1; l > e->first_param; l--)
        w->g[l] = m->layers[l].kind == HESSE_LAYER_FLATTEN ? w->g[l + 1] : w->st.grad[l];
}

int nn_check_samples(const hesse_engine *e, const hesse_samples *s) {
    int c, h, w;
    hesse_model_input_shape(e->m, &c, &h, &w);
    if (!s || s->n <= 0 || !s->x || !s->y) return hesse_error(HESSE_EINVAL, "no samples given");
    if (s->c != c || s->h != h || s->w != w)
        return hesse_error(HESSE_EINPUT,
                           "samples are %dx%dx%d but the model \"%s\" expects input %dx%dx%d", s->c,
                           s->h, s->w, hesse_model_arch(e->m), c, h, w);
    for (int64_t i = 0; i < s->n; i++)
        if (s->y[i] < 0 || s->y[i] >= e->C)
            return hesse_error(HESSE_EINPUT,
                               "sample %lld has label %d but the model has %d outputs (labels "
                               "must lie in [0, %d))",
                               (long long)(s->source ? s->source[i] : i), (int)s->y[i], e->C, e->C);
    return HESSE_OK;
}

double nn_loss_scale(const hesse_engine *e, int64_t n) {
    /* PyTorch's reduction='mean': over samples for cross-entropy, over all n*C elements for
     * MSE. */
    return e->m->loss == HESSE_LOSS_MSE ? 1.0 / ((double)n * e->C) : 1.0 / (double)n;
}
