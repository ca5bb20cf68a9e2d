/* The engine: passes over samples in chunks, for the loss, its gradient, and the exact
 * Hessian-vector and Gauss-Newton-vector products in block form.
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
#include <stdlib.h>
#include <string.h>

hesse_engine_params hesse_engine_defaults(void) {
    hesse_engine_params p = {0, 1, (size_t)512 << 20};
    return p;
}

static int has_params(const hesse_layer *L) {
    return L->weight_count > 0;
}

/* Doubles of scratch per sample of a chunk, and independent of the chunk, for block k. */
static void scratch_size(const hesse_model *m, int k, int64_t *per_sample, int64_t *fixed) {
    int64_t ps = 0, fx = 0, max_size = 0, max_tmp = 0, max_gcols = 0, max_gyp = 0, max_w = 0;
    ps += hesse_model_num_outputs(m); /* probs */
    for (int l = 0; l < m->num_layers; l++) {
        const hesse_layer *L = &m->layers[l];
        int64_t out = nn_out_size(L);
        ps += out * (2 + (int64_t)k); /* act, grad, ract */
        if (out > max_size) max_size = out;
        if (nn_in_size(L) > max_size) max_size = nn_in_size(L);
        if (L->kind == HESSE_LAYER_CONV2D) {
            int64_t K = nn_conv_k(L), P = nn_conv_p(L);
            ps += K * P * (1 + (int64_t)k); /* cols, rcols */
            if (K * P * k > max_gcols) max_gcols = K * P * k;
            if ((int64_t)L->out_c * P * k > max_tmp) max_tmp = (int64_t)L->out_c * P * k;
            if ((int64_t)L->out_c * P > max_gyp) max_gyp = (int64_t)L->out_c * P;
            if (L->weight_count > max_w) max_w = L->weight_count;
        }
        if (L->kind == HESSE_LAYER_MAXPOOL2D) ps += (out + 1) / 2; /* int32 arg-max */
    }
    ps += 2 * (int64_t)k * max_size + max_tmp + max_gcols + max_gyp;
    fx += (int64_t)k * max_w;
    *per_sample = ps;
    *fixed = fx;
}

int hesse_engine_create(const hesse_model *m, const hesse_engine_params *p, hesse_engine **out) {
    if (!m || !out) return hesse_error(HESSE_EINVAL, "hesse_engine_create: NULL argument");
    *out = NULL;
    hesse_engine_params d = p ? *p : hesse_engine_defaults();
    if (d.max_block <= 0) d.max_block = 1;
    if (d.memory_budget == 0) d.memory_budget = hesse_engine_defaults().memory_budget;
    if (d.chunk < 0) return hesse_error(HESSE_EINVAL, "engine: chunk %d is negative", d.chunk);
    const int k = d.max_block;
    int64_t per_sample, fixed;
    scratch_size(m, k, &per_sample, &fixed);
    if (d.chunk == 0) {
        int64_t fit = ((int64_t)(d.memory_budget / sizeof(double)) - fixed) / per_sample;
        d.chunk = (int)(fit > 512 ? 512 : fit < 1 ? 1 : fit);
    }
    hesse_engine *e = calloc(1, sizeof *e);
    if (!e) return hesse_error(HESSE_ENOMEM, "engine: out of memory");
    int rc = HESSE_OK;
    const int L = m->num_layers, B = d.chunk;
    e->m = m;
    e->chunk = B;
    e->max_block = k;
    e->L = L;
    e->C = hesse_model_num_outputs(m);
    e->first_param = L;
    for (int l = L - 1; l >= 0; l--)
        if (has_params(&m->layers[l])) e->first_param = l;
    e->size = calloc((size_t)L + 1, sizeof *e->size);
    e->act = calloc((size_t)L + 1, sizeof *e->act);
    e->grad = calloc((size_t)L + 1, sizeof *e->grad);
    e->ract = calloc((size_t)L + 1, sizeof *e->ract);
    e->cols = calloc((size_t)L, sizeof *e->cols);
    e->rcols = calloc((size_t)L, sizeof *e->rcols);
    e->argmax = calloc((size_t)L, sizeof *e->argmax);
    e->a = calloc((size_t)L + 1, sizeof *e->a);
    e->g = calloc((size_t)L + 1, sizeof *e->g);
    e->ra = calloc((size_t)L + 1, sizeof *e->ra);
    if (!e->size || !e->act || !e->grad || !e->ract || !e->cols || !e->rcols || !e->argmax ||
        !e->a || !e->g || !e->ra) {
        rc = hesse_error(HESSE_ENOMEM, "engine: out of memory");
        goto cleanup;
    }
    e->size[0] = nn_in_size(&m->layers[0]);
    int64_t max_size = e->size[0], max_tmp = 0, max_gcols = 0, max_gyp = 0, max_w = 0;
#define ALLOC(ptr, count)                                                                          \
    do {                                                                                           \
        size_t bytes_ = (size_t)(count) * sizeof *(ptr);                                           \
        (ptr) = hesse_alloc(bytes_);                                                               \
        if (!(ptr)) {                                                                              \
            rc = hesse_error(HESSE_ENOMEM,                                                         \
                             "engine: cannot allocate %zu bytes of scratch (chunk %d, block %d)",  \
                             bytes_, B, k);                                                        \
            goto cleanup;                                                                          \
        }                                                                                          \
        e->bytes += bytes_;                                                                        \
    } while (0)
    for (int l = 0; l < L; l++) {
        const hesse_layer *Ly = &m->layers[l];
        int64_t sz = nn_out_size(Ly);
        e->size[l + 1] = sz;
        if (sz > max_size) max_size = sz;
        ALLOC(e->act[l + 1], (int64_t)B * sz);
        ALLOC(e->grad[l + 1], (int64_t)B * sz);
        ALLOC(e->ract[l + 1], (int64_t)k * B * sz);
        if (Ly->kind == HESSE_LAYER_CONV2D) {
            int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly);
            ALLOC(e->cols[l], K * B * P);
            ALLOC(e->rcols[l], K * k * B * P);
            if (K * P * k > max_gcols) max_gcols = K * P * k;
            if ((int64_t)Ly->out_c * P * k > max_tmp) max_tmp = (int64_t)Ly->out_c * P * k;
            if ((int64_t)Ly->out_c * P > max_gyp) max_gyp = (int64_t)Ly->out_c * P;
            if (Ly->weight_count > max_w) max_w = Ly->weight_count;
        }
        if (Ly->kind == HESSE_LAYER_MAXPOOL2D) ALLOC(e->argmax[l], (int64_t)B * sz);
    }
    ALLOC(e->rg[0], (int64_t)k * B * max_size);
    ALLOC(e->rg[1], (int64_t)k * B * max_size);
    ALLOC(e->probs, (int64_t)B * e->C);
    ALLOC(e->tmp, max_tmp > 0 ? (int64_t)B * max_tmp : 1);
    ALLOC(e->gcols, max_gcols > 0 ? (int64_t)B * max_gcols : 1);
    ALLOC(e->gyp, max_gyp > 0 ? (int64_t)B * max_gyp : 1);
    ALLOC(e->vstack, max_w > 0 ? (int64_t)k * max_w : 1);
#undef ALLOC
    *out = e;
    return HESSE_OK;
cleanup:
    hesse_engine_free(e);
    return rc;
}

void hesse_engine_free(hesse_engine *e) {
    if (!e) return;
    for (int l = 0; l <= e->L; l++) {
        if (e->act) hesse_free(e->act[l]);
        if (e->grad) hesse_free(e->grad[l]);
        if (e->ract) hesse_free(e->ract[l]);
        if (l < e->L) {
            if (e->cols) hesse_free(e->cols[l]);
            if (e->rcols) hesse_free(e->rcols[l]);
            if (e->argmax) hesse_free(e->argmax[l]);
        }
    }
    hesse_free(e->rg[0]);
    hesse_free(e->rg[1]);
    hesse_free(e->probs);
    hesse_free(e->tmp);
    hesse_free(e->gcols);
    hesse_free(e->gyp);
    hesse_free(e->vstack);
    free(e->size);
    free(e->act);
    free(e->grad);
    free(e->ract);
    free(e->cols);
    free(e->rcols);
    free(e->argmax);
    free(e->a);
    free(e->g);
    free(e->ra);
    free(e);
}

int hesse_engine_chunk(const hesse_engine *e) {
    return e->chunk;
}

int hesse_engine_max_block(const hesse_engine *e) {
    return e->max_block;
}

size_t hesse_engine_bytes(const hesse_engine *e) {
    return e->bytes;
}

int64_t hesse_engine_num_params(const hesse_engine *e) {
    return e->m->n;
}

const hesse_model *hesse_engine_model(const hesse_engine *e) {
    return e->m;
}

/* ---- Passes over one chunk of B samples ------------------------------------------------ */

void nn_forward_chunk(hesse_engine *e, int B, const double *x) {
    const hesse_model *m = e->m;
    const double *theta = m->params;
    e->a[0] = x;
    for (int l = 0; l < e->L; l++) {
        const hesse_layer *Ly = &m->layers[l];
        const double *in = e->a[l];
        double *out = e->act[l + 1];
        const double *W = theta + Ly->weight_offset;
        const double *bias = Ly->bias_count ? theta + Ly->bias_offset : NULL;
        switch (Ly->kind) {
        case HESSE_LAYER_LINEAR:
            nn_linear_forward(B, Ly->in_c, Ly->out_c, in, W, bias, 0.0, out);
            break;
        case HESSE_LAYER_CONV2D: {
            /* tmp [Cout, B*P] = W [Cout, K] cols [K, B*P] */
            const int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly);
            nn_im2col(Ly, B, in, e->cols[l]);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Ly->out_c, (int)(B * P), (int)K,
                        1.0, W, (int)K, e->cols[l], (int)(B * P), 0.0, e->tmp, (int)(B * P));
            nn_cbp_to_bcp(B, Ly->out_c, (int)P, e->tmp, 0, out);
            if (bias)
                for (int b = 0; b < B; b++)
                    for (int c = 0; c < Ly->out_c; c++) {
                        double *d = out + ((int64_t)b * Ly->out_c + c) * P;
                        for (int64_t p = 0; p < P; p++) d[p] += bias[c];
                    }
            break;
        }
        case HESSE_LAYER_MAXPOOL2D:
            nn_maxpool_forward(Ly, B, in, out, e->argmax[l]);
            break;
        case HESSE_LAYER_AVGPOOL2D:
            nn_avgpool_forward(Ly, B, in, out);
            break;
        case HESSE_LAYER_FLATTEN:
            e->a[l + 1] = in;
            continue;
        default:
            nn_activation_forward(Ly->kind, (int64_t)B * e->size[l + 1], in, out);
            break;
        }
        e->a[l + 1] = out;
    }
}

/* Loss of each sample from the logits; fills e->probs (cross-entropy) and the gradient of
 * the mean loss in the logits, g[L] = scale * dl/dz. Returns the index of the first sample
 * with a non-finite loss, or -1. */
int64_t nn_loss_chunk(hesse_engine *e, int B, const int32_t *y, double scale, double *sum,
                      int64_t *correct) {
    const int C = e->C;
    const double *z = e->a[e->L];
    double *gz = e->grad[e->L];
    e->g[e->L] = gz;
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
            double *pb = e->probs + (int64_t)b * C;
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
void nn_backward_chunk(hesse_engine *e, int B, double *pgrad) {
    const hesse_model *m = e->m;
    const double *theta = m->params;
    for (int l = e->L - 1; l >= e->first_param; l--) {
        const hesse_layer *Ly = &m->layers[l];
        const double *x = e->a[l], *gy = e->g[l + 1];
        const int need_gx = l > e->first_param;
        double *gx = e->grad[l];
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
            nn_bcp_to_cbp(B, Co, (int)P, gy, e->gyp);
            if (pgrad) {
                /* gW [Cout, K] += gy [Cout, B*P] cols^T [B*P, K] */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, (int)K, (int)BP, 1.0,
                            e->gyp, (int)BP, e->cols[l], (int)BP, 1.0, pgrad + Ly->weight_offset,
                            (int)K);
                if (Ly->bias_count)
                    for (int c = 0; c < Co; c++) {
                        double s = 0.0;
                        for (int64_t i = 0; i < BP; i++) s += e->gyp[c * BP + i];
                        pgrad[Ly->bias_offset + c] += s;
                    }
            }
            if (need_gx) {
                /* gcols [K, B*P] = W^T [K, Cout] gy [Cout, B*P], then the adjoint of im2col */
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)BP, Co, 1.0, W,
                            (int)K, e->gyp, (int)BP, 0.0, e->gcols, (int)BP);
                memset(gx, 0, (size_t)(B * e->size[l]) * sizeof *gx);
                nn_col2im(Ly, B, e->gcols, gx);
            }
            break;
        }
        case HESSE_LAYER_MAXPOOL2D:
            memset(gx, 0, (size_t)(B * e->size[l]) * sizeof *gx);
            nn_maxpool_scatter(Ly, B, gy, e->argmax[l], gx);
            break;
        case HESSE_LAYER_AVGPOOL2D:
            memset(gx, 0, (size_t)(B * e->size[l]) * sizeof *gx);
            nn_avgpool_backward(Ly, B, gy, gx);
            break;
        case HESSE_LAYER_FLATTEN:
            e->g[l] = (double *)gy;
            continue;
        default:
            nn_activation_jvp(Ly->kind, (int64_t)B * e->size[l + 1], x, e->a[l + 1], gy, gx);
            break;
        }
        e->g[l] = gx;
    }
}

/* R-forward for k directions V (column j at V + j*n): ra[l+1] for l >= first_param. */
static void rforward_chunk(hesse_engine *e, int B, int k, const double *V) {
    const hesse_model *m = e->m;
    const double *theta = m->params;
    const int64_t n = m->n;
    for (int l = e->first_param; l < e->L; l++) {
        const hesse_layer *Ly = &m->layers[l];
        const int rx_zero = l == e->first_param; /* nothing before it depends on theta */
        const double *x = e->a[l], *Rx = e->ra[l];
        double *Ry = e->ract[l + 1];
        const int64_t in = e->size[l], out = e->size[l + 1];
        const double *W = theta + Ly->weight_offset;
        switch (Ly->kind) {
        case HESSE_LAYER_LINEAR:
            /* Ry_j = Rx_j W^T + x VW_j^T + Vb_j; the first term for all j in one GEMM. */
            if (!rx_zero) nn_linear_forward(k * B, Ly->in_c, Ly->out_c, Rx, W, NULL, 0.0, Ry);
            for (int j = 0; j < k; j++) {
                const double *Vj = V + j * n;
                nn_linear_forward(B, Ly->in_c, Ly->out_c, x, Vj + Ly->weight_offset,
                                  Ly->bias_count ? Vj + Ly->bias_offset : NULL, rx_zero ? 0.0 : 1.0,
                                  Ry + j * B * out);
            }
            break;
        case HESSE_LAYER_CONV2D: {
            const int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly), BP = B * P;
            const int Co = Ly->out_c;
            if (!rx_zero) {
                /* conv(Rx, W): the k*B R-inputs as one batch */
                nn_im2col(Ly, k * B, Rx, e->rcols[l]);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, (int)(k * BP), (int)K,
                            1.0, W, (int)K, e->rcols[l], (int)(k * BP), 0.0, e->tmp, (int)(k * BP));
                nn_cbp_to_bcp(k * B, Co, (int)P, e->tmp, 0, Ry);
            }
            /* conv(x, VW_j) for all j: [k*Cout, K] x cols [K, B*P] */
            for (int j = 0; j < k; j++)
                memcpy(e->vstack + j * Ly->weight_count, V + j * n + Ly->weight_offset,
                       (size_t)Ly->weight_count * sizeof(double));
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k * Co, (int)BP, (int)K, 1.0,
                        e->vstack, (int)K, e->cols[l], (int)BP, 0.0, e->tmp, (int)BP);
            for (int j = 0; j < k; j++) {
                double *Ryj = Ry + j * B * out;
                nn_cbp_to_bcp(B, Co, (int)P, e->tmp + j * Co * BP, !rx_zero, Ryj);
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
                nn_maxpool_gather(Ly, B, Rx + j * B * in, e->argmax[l], Ry + j * B * out);
            break;
        case HESSE_LAYER_AVGPOOL2D:
            nn_avgpool_forward(Ly, k * B, Rx, Ry);
            break;
        case HESSE_LAYER_FLATTEN:
            e->ra[l + 1] = (double *)Rx;
            continue;
        default:
            for (int j = 0; j < k; j++)
                nn_activation_jvp(Ly->kind, B * out, x, e->a[l + 1], Rx + j * B * in,
                                  Ry + j * B * out);
            break;
        }
        e->ra[l + 1] = Ry;
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
static void rbackward_chunk(hesse_engine *e, int B, int k, const double *V, double *Y, double scale,
                            int64_t N, hesse_curv_kind kind) {
    const hesse_model *m = e->m;
    const double *theta = m->params;
    const int64_t n = m->n;
    const int C = e->C;
    const int hessian = kind == HESSE_CURV_HESSIAN || kind == HESSE_CURV_RESIDUAL;

    double *Rgy = e->rg[0];
    const double *Rz = e->ra[e->L];
    for (int j = 0; j < k; j++)
        for (int b = 0; b < B; b++) {
            const double *r = Rz + ((int64_t)j * B + b) * C;
            double *o = Rgy + ((int64_t)j * B + b) * C;
            if (kind == HESSE_CURV_RESIDUAL) {
                for (int c = 0; c < C; c++) o[c] = 0.0;
            } else if (kind == HESSE_CURV_EFISHER) {
                const double *gz = e->grad[e->L] + (int64_t)b * C;
                double dot = 0.0;
                for (int c = 0; c < C; c++) dot += gz[c] * r[c];
                for (int c = 0; c < C; c++) o[c] = (double)N * gz[c] * dot;
            } else if (m->loss == HESSE_LOSS_CROSS_ENTROPY) {
                /* A = diag(p) - p p^T */
                const double *p = e->probs + (int64_t)b * C;
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
        const double *x = e->a[l], *Rx = e->ra[l], *gy = hessian ? e->g[l + 1] : NULL;
        const int64_t in = e->size[l], out = e->size[l + 1];
        const double *W = theta + Ly->weight_offset;
        double *Rgx = Rgy == e->rg[0] ? e->rg[1] : e->rg[0];
        switch (Ly->kind) {
        case HESSE_LAYER_LINEAR: {
            const int ni = Ly->in_c, no = Ly->out_c;
            for (int j = 0; j < k; j++) {
                double *Yj = Y + j * n;
                /* HW_j += Rgy_j^T x (+ gy^T Rx_j);  Hb_j += sum_b Rgy_j */
                nn_linear_backward_params(B, ni, no, x, Rgy + j * B * out, Yj + Ly->weight_offset,
                                          Ly->bias_count ? Yj + Ly->bias_offset : NULL);
                if (hessian && !rx_zero)
                    nn_linear_backward_params(B, ni, no, Rx + j * B * in, gy,
                                              Yj + Ly->weight_offset, NULL);
            }
            if (need_rgx) {
                /* Rgx_j = Rgy_j W (+ gy VW_j) */
                nn_linear_backward_input(k * B, ni, no, Rgy, W, 0.0, Rgx);
                if (hessian)
                    for (int j = 0; j < k; j++)
                        nn_linear_backward_input(B, ni, no, gy, V + j * n + Ly->weight_offset, 1.0,
                                                 Rgx + j * B * in);
            }
            break;
        }
        case HESSE_LAYER_CONV2D: {
            const int64_t K = nn_conv_k(Ly), P = nn_conv_p(Ly), BP = B * P, kBP = k * BP;
            const int Co = Ly->out_c;
            double *Rgyp = e->tmp; /* [Cout, k*B*P] */
            nn_bcp_to_cbp(k * B, Co, (int)P, Rgy, Rgyp);
            if (hessian) nn_bcp_to_cbp(B, Co, (int)P, gy, e->gyp);
            for (int j = 0; j < k; j++) {
                double *HW = Y + j * n + Ly->weight_offset;
                /* HW_j += Rgy_j [Cout, B*P] cols^T (+ gy [Cout, B*P] Rcols_j^T) */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, (int)K, (int)BP, 1.0,
                            Rgyp + j * BP, (int)kBP, e->cols[l], (int)BP, 1.0, HW, (int)K);
                if (hessian && !rx_zero)
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, (int)K, (int)BP, 1.0,
                                e->gyp, (int)BP, e->rcols[l] + j * BP, (int)kBP, 1.0, HW, (int)K);
                if (Ly->bias_count) {
                    double *Hb = Y + j * n + Ly->bias_offset;
                    for (int c = 0; c < Co; c++) {
                        const double *r = Rgyp + c * kBP + j * BP;
                        double s = 0.0;
                        for (int64_t i = 0; i < BP; i++) s += r[i];
                        Hb[c] += s;
                    }
                }
            }
            if (need_rgx) {
                /* gcols [K, k*B*P] = W^T Rgy (+ VW_j^T gy per block j), then col2im */
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)kBP, Co, 1.0, W,
                            (int)K, Rgyp, (int)kBP, 0.0, e->gcols, (int)kBP);
                if (hessian)
                    for (int j = 0; j < k; j++)
                        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)BP, Co,
                                    1.0, V + j * n + Ly->weight_offset, (int)K, e->gyp, (int)BP,
                                    1.0, e->gcols + j * BP, (int)kBP);
                memset(Rgx, 0, (size_t)(k * B * in) * sizeof *Rgx);
                nn_col2im(Ly, k * B, e->gcols, Rgx);
            }
            break;
        }
        case HESSE_LAYER_MAXPOOL2D:
            memset(Rgx, 0, (size_t)(k * B * in) * sizeof *Rgx);
            for (int j = 0; j < k; j++)
                nn_maxpool_scatter(Ly, B, Rgy + j * B * out, e->argmax[l], Rgx + j * B * in);
            break;
        case HESSE_LAYER_AVGPOOL2D:
            memset(Rgx, 0, (size_t)(k * B * in) * sizeof *Rgx);
            nn_avgpool_backward(Ly, k * B, Rgy, Rgx);
            break;
        case HESSE_LAYER_FLATTEN:
            continue; /* same values, same layout */
        default:
            for (int j = 0; j < k; j++)
                nn_activation_rback(Ly->kind, B * out, x, e->a[l + 1], gy,
                                    hessian ? Rx + j * B * in : NULL, Rgy + j * B * out,
                                    Rgx + j * B * in);
            break;
        }
        Rgy = Rgx;
    }
}

/* ---- Public passes ---------------------------------------------------------------------- */

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

static double loss_scale(const hesse_engine *e, int64_t n) {
    /* PyTorch's reduction='mean': over samples for cross-entropy, over all n*C elements for
     * MSE. */
    return e->m->loss == HESSE_LOSS_MSE ? 1.0 / ((double)n * e->C) : 1.0 / (double)n;
}

static int nonfinite_loss(const hesse_samples *s, int64_t i) {
    return hesse_error(HESSE_ENUMERIC,
                       "the loss of sample %lld is not finite (check the weights and inputs)",
                       (long long)(s->source ? s->source[i] : i));
}

int hesse_loss_grad(hesse_engine *e, const hesse_samples *s, double *loss, double *grad,
                    int64_t *correct) {
    if (!e || !loss) return hesse_error(HESSE_EINVAL, "hesse_loss_grad: NULL argument");
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    const int64_t dim = hesse_samples_dim(s);
    const double scale = loss_scale(e, s->n);
    double sum = 0.0;
    if (correct) *correct = 0;
    if (grad) memset(grad, 0, (size_t)e->m->n * sizeof *grad);
    for (int64_t c0 = 0; c0 < s->n; c0 += e->chunk) {
        int B = (int)(s->n - c0 < e->chunk ? s->n - c0 : e->chunk);
        nn_forward_chunk(e, B, s->x + c0 * dim);
        int64_t bad = nn_loss_chunk(e, B, s->y + c0, scale, &sum, correct);
        if (bad >= 0) return nonfinite_loss(s, c0 + bad);
        if (grad) nn_backward_chunk(e, B, grad);
    }
    *loss = sum * scale;
    return HESSE_OK;
}

int hesse_curv_product(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind, int k,
                       const double *V, double *Y) {
    if (!e || (k > 0 && (!V || !Y)) || k < 0)
        return hesse_error(HESSE_EINVAL, "hesse_curv_product: invalid arguments");
    if (kind < HESSE_CURV_HESSIAN || kind > HESSE_CURV_EFISHER)
        return hesse_error(HESSE_EINVAL, "hesse_curv_product: unknown curvature %d", (int)kind);
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    const int64_t dim = hesse_samples_dim(s), n = e->m->n;
    const double scale = loss_scale(e, s->n);
    const int second_order = kind == HESSE_CURV_HESSIAN || kind == HESSE_CURV_RESIDUAL;
    memset(Y, 0, (size_t)(n * k) * sizeof *Y);
    for (int64_t c0 = 0; c0 < s->n; c0 += e->chunk) {
        int B = (int)(s->n - c0 < e->chunk ? s->n - c0 : e->chunk);
        double sum = 0.0;
        nn_forward_chunk(e, B, s->x + c0 * dim);
        int64_t bad = nn_loss_chunk(e, B, s->y + c0, scale, &sum, NULL);
        if (bad >= 0) return nonfinite_loss(s, c0 + bad);
        if (second_order) nn_backward_chunk(e, B, NULL);
        for (int j0 = 0; j0 < k; j0 += e->max_block) {
            int kk = k - j0 < e->max_block ? k - j0 : e->max_block;
            rforward_chunk(e, B, kk, V + j0 * n);
            rbackward_chunk(e, B, kk, V + j0 * n, Y + j0 * n, scale, s->n, kind);
        }
    }
    return HESSE_OK;
}

int hesse_forward(hesse_engine *e, const hesse_samples *s, double *out) {
    if (!e || !out) return hesse_error(HESSE_EINVAL, "hesse_forward: NULL argument");
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    const int64_t dim = hesse_samples_dim(s);
    for (int64_t c0 = 0; c0 < s->n; c0 += e->chunk) {
        int B = (int)(s->n - c0 < e->chunk ? s->n - c0 : e->chunk);
        nn_forward_chunk(e, B, s->x + c0 * dim);
        memcpy(out + c0 * e->C, e->a[e->L], (size_t)B * e->C * sizeof *out);
    }
    return HESSE_OK;
}

const char *hesse_curv_name(hesse_curv_kind kind) {
    static const char *const names[] = {"hessian", "ggn", "residual", "efisher"};
    return kind >= HESSE_CURV_HESSIAN && kind <= HESSE_CURV_EFISHER ? names[kind] : "?";
}

int hesse_curv_parse(const char *name, hesse_curv_kind *kind) {
    for (int k = HESSE_CURV_HESSIAN; k <= HESSE_CURV_EFISHER; k++)
        if (strcmp(name, hesse_curv_name((hesse_curv_kind)k)) == 0) {
            *kind = (hesse_curv_kind)k;
            return HESSE_OK;
        }
    return hesse_error(HESSE_EINVAL,
                       "unknown operator '%s' (expected hessian, ggn, residual or efisher)", name);
}
