/* nn/factors.c: backward passes with given logit gradients, and Kronecker factors, against
 * dense curvature blocks assembled from exact products (an independent route).
 *
 *  - hesse_backward_with with gz = (p - e_y) / N is the mean-loss gradient;
 *  - one sample, one linear layer: the exact weight Hessian is M (x) x x^T;
 *  - a ReLU net (M exact, layers after piecewise linear): for each linear layer the exact
 *    Hessian block equals (1/N) sum_i M_i (x) x_i x_i^T, with M_i, x_i from one-sample runs;
 *  - a tanh net: the same identity holds for the GGN block (M is then the GGN part);
 *  - a convolution whose kernel covers its input (one output position) behaves as linear;
 *  - E[M] and E[x x^T] are the means of the one-sample factors. */
#include <hesse/curv.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"

static void fill(hesse_samples *s, int n, int c, int h, int w, int classes, uint64_t seed) {
    REQUIRE(hesse_samples_alloc(n, c, h, w, classes, s) == HESSE_OK);
    hesse_rng r;
    hesse_rng_seed(&r, seed);
    for (int64_t i = 0; i < (int64_t)n * c * h * w; i++) s->x[i] = hesse_rng_normal(&r);
    for (int i = 0; i < n; i++) s->y[i] = (int32_t)hesse_rng_below(&r, (uint64_t)classes);
}

static void loss_grad_fn(void *ctx, int64_t i0, int B, const double *z, const double *p,
                         const int32_t *y, double *gz) {
    (void)i0;
    (void)z;
    const int *dims = ctx; /* C, N */
    for (int b = 0; b < B; b++)
        for (int c = 0; c < dims[0]; c++)
            gz[b * dims[0] + c] = (p[b * dims[0] + c] - (c == y[b])) / dims[1];
}

/* The dense block of the operator `kind` for the parameters [off, off + len). */
static double *dense_block(hesse_engine *e, const hesse_samples *s, hesse_curv_kind kind,
                           int64_t off, int64_t len) {
    hesse_op full, blk;
    REQUIRE(hesse_op_curvature(e, s, kind, &full) == HESSE_OK);
    REQUIRE(hesse_op_restrict(&full, 1, &off, &len, &blk) == HESSE_OK);
    double *A = malloc((size_t)(len * len) * sizeof *A);
    REQUIRE(hesse_op_to_dense(&blk, 16, A, NULL, NULL) == HESSE_OK);
    hesse_op_free(&blk);
    hesse_op_free(&full);
    return A;
}

/* max |A - sum_i w_i M_i (x) X_i| / max |A| over the per-sample factors (the Kronecker index
 * of vec(W) row-major: (o, j) -> o * in + j). */
static double kron_error(const double *A, int64_t out, int64_t in, int count,
                         hesse_layer_factors *const *per, int which) {
    int64_t n = out * in;
    double amax = 0, err = 0;
    for (int64_t i = 0; i < n * n; i++) amax = fmax(amax, fabs(A[i]));
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < n; c++) {
            int64_t o1 = r / in, j1 = r % in, o2 = c / in, j2 = c % in;
            double k = 0;
            for (int i = 0; i < count; i++)
                k += per[i][which].M[o1 * out + o2] * per[i][which].xx[j1 * in + j2];
            err = fmax(err, fabs(A[c * n + r] - k / count));
        }
    return err / amax;
}

/* The loss of the nets check_identity makes (main switches it to MSE for its last cases). */
static hesse_loss_kind test_loss = HESSE_LOSS_CROSS_ENTROPY;

static void check_identity(const char *arch, int c, int h, int w, hesse_factor_m which,
                           hesse_curv_kind kind, int want_exact) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create(arch, c, h, w, test_loss, &m) == HESSE_OK);
    hesse_model_init(m, 11);
    hesse_samples s;
    const int N = 7;
    fill(&s, N, c, h, w, hesse_model_num_outputs(m), 5);
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 3;
    ep.max_block = 16;
    ep.threads = 2; /* the factors' per-worker sums and their reduction */
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    hesse_layer_factors *all = NULL, *per[7];
    int nf = 0, nf1 = 0;
    REQUIRE(hesse_layer_factors_compute(e, &s, which, &all, &nf) == HESSE_OK);
    for (int i = 0; i < N; i++) {
        hesse_samples one = hesse_samples_slice(&s, i, 1);
        REQUIRE(hesse_layer_factors_compute(e, &one, which, &per[i], &nf1) == HESSE_OK &&
                nf1 == nf);
    }
    for (int f = 0; f < nf; f++) {
        const hesse_layer *L = hesse_model_layer(m, all[f].layer);
        CHECK_MSG(all[f].M_exact == (want_exact || f == nf - 1), "%s layer %d M_exact %d", arch,
                  L->index, all[f].M_exact);
        /* the means of the one-sample factors (rounding of the sums: 1e-13) */
        double em = 0, ex = 0, sm = 0, sx = 0;
        for (int64_t k = 0; k < all[f].out * all[f].out; k++) {
            double mean = 0;
            for (int i = 0; i < N; i++) mean += per[i][f].M[k] / N;
            em = fmax(em, fabs(mean - all[f].M[k]));
            sm = fmax(sm, fabs(mean));
        }
        for (int64_t k = 0; k < all[f].in * all[f].in; k++) {
            double mean = 0;
            for (int i = 0; i < N; i++) mean += per[i][f].xx[k] / N;
            ex = fmax(ex, fabs(mean - all[f].xx[k]));
            sx = fmax(sx, fabs(mean));
        }
        CHECK_MSG(em <= 1e-13 * sm && ex <= 1e-13 * sx, "%s layer %d: means %.3g %.3g", arch,
                  L->index, em / sm, ex / sx);
        if (all[f].positions != 1) continue; /* the identity needs one output position */
        double *A = dense_block(e, &s, kind, L->weight_offset, L->weight_count);
        hesse_layer_factors *pp[7];
        for (int i = 0; i < N; i++) pp[i] = per[i];
        double err = kron_error(A, all[f].out, all[f].in, N, pp, f);
        /* an exact identity: differences are rounding of sums of products (1e-12) */
        CHECK_MSG(err <= 1e-12, "%s layer %d: H block vs sum M_i (x) x_i x_i^T: %.3g", arch,
                  L->index, err);
        free(A);
    }
    for (int i = 0; i < N; i++) hesse_layer_factors_free(per[i], nf);
    hesse_layer_factors_free(all, nf);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_model_free(m);
}

int main(void) {
    /* backward_with = the gradient when given the loss's own logit gradient */
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("conv2d(1,2,3),relu,flatten,linear(8,3)", 1, 4, 4,
                               HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    hesse_model_init(m, 2);
    hesse_samples s;
    fill(&s, 9, 1, 4, 4, 3, 3);
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 4;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    const int64_t n = hesse_model_num_params(m);
    double *g1 = malloc((size_t)n * sizeof *g1), *g2 = malloc((size_t)n * sizeof *g2), loss;
    int dims[2] = {3, 9};
    REQUIRE(hesse_loss_grad(e, &s, &loss, g1, NULL) == HESSE_OK);
    REQUIRE(hesse_backward_with(e, &s, loss_grad_fn, dims, g2) == HESSE_OK);
    double d = 0, gm = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs(g1[i] - g2[i]));
        gm = fmax(gm, fabs(g1[i]));
    }
    CHECK_MSG(d <= 1e-15 * gm + 1e-300, "backward_with vs gradient: %.3g", d);
    free(g1);
    free(g2);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_model_free(m);

    const hesse_factor_m X = HESSE_FACTOR_M_EXACT, G = HESSE_FACTOR_M_GGN;
    /* one linear layer: M is the loss Hessian itself, exact */
    check_identity("flatten,linear(6,3)", 1, 2, 3, X, HESSE_CURV_HESSIAN, 1);
    /* ReLU and max-pool after every layer: M exact, Hessian blocks of the linear layers */
    check_identity("conv2d(1,2,3),relu,maxpool2d(2),flatten,linear(8,5),relu,linear(5,3)", 1, 6, 6,
                   X, HESSE_CURV_HESSIAN, 1);
    check_identity("conv2d(1,2,3),relu,maxpool2d(2),flatten,linear(8,5),relu,linear(5,3)", 1, 6, 6,
                   G, HESSE_CURV_HESSIAN, 1);
    /* a convolution covering its input has one output position: the identity holds for it */
    check_identity("conv2d(2,4,3),relu,flatten,linear(4,3)", 2, 3, 3, X, HESSE_CURV_HESSIAN, 1);
    /* tanh after the first layer: the exact M (R-passes) gives the Hessian block, the GGN M
     * the GGN block */
    check_identity("flatten,linear(6,4),tanh,linear(4,3)", 1, 2, 3, X, HESSE_CURV_HESSIAN, 1);
    check_identity("flatten,linear(6,4),tanh,linear(4,3)", 1, 2, 3, G, HESSE_CURV_GGN, 0);
    /* curved layers of every kind after the first layers, a conv of one output position */
    check_identity("conv2d(2,5,3),gelu,flatten,linear(5,4),sigmoid,layernorm(4),linear(4,3)", 2, 3,
                   3, X, HESSE_CURV_HESSIAN, 1);
    check_identity("conv2d(2,5,3),gelu,flatten,linear(5,4),sigmoid,layernorm(4),linear(4,3)", 2, 3,
                   3, G, HESSE_CURV_GGN, 0);
    /* residual blocks: directions injected inside a block's main branch and in its shortcut
     * (the block's input R-value must read as zero), curved layers after them */
    check_identity("flatten,linear(6,4),residual(linear(4,4),tanh,linear(4,4),tanh|linear(4,4)),"
                   "tanh,linear(4,3)",
                   1, 2, 3, X, HESSE_CURV_HESSIAN, 1);
    /* the R-pass directions per sample: the conv's 5 x 1 x 1 and linear(5,4)'s 4 outputs are
     * behind curved layers, the last linear's are not */
    hesse_model *mc = NULL;
    REQUIRE(hesse_model_create("conv2d(2,5,3),gelu,flatten,linear(5,4),sigmoid,layernorm(4),"
                               "linear(4,3)",
                               2, 3, 3, HESSE_LOSS_CROSS_ENTROPY, &mc) == HESSE_OK);
    hesse_engine *ec = NULL;
    REQUIRE(hesse_engine_create(mc, NULL, &ec) == HESSE_OK);
    CHECK(hesse_layer_factors_rpasses(ec, X) == 9 && hesse_layer_factors_rpasses(ec, G) == 0);
    hesse_engine_free(ec);
    hesse_model_free(mc);
    /* MSE (the mean over N samples and C outputs): M_i is the Hessian of the per-sample mean
     * over outputs, exact and GGN alike */
    test_loss = HESSE_LOSS_MSE;
    check_identity("flatten,linear(6,4),tanh,linear(4,3)", 1, 2, 3, X, HESSE_CURV_HESSIAN, 1);
    check_identity("flatten,linear(6,4),tanh,linear(4,3)", 1, 2, 3, G, HESSE_CURV_GGN, 0);
    return test_summary("test_factors");
}
