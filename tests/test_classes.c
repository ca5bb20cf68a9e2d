/* analysis/classes.c against an independent assembly: per-sample Jacobians J_i by central
 * differences of the logits (error ~1e-10), per-sample delta_{i,c'} = sqrt(p_c') J_i^T (e_c' -
 * p_i) (MSE: sqrt(2/C) J_i^T e_c'), and from them the dense G_means and G_within.
 *
 * Checks: the engine's class means equal the means of those deltas; the Gram spectrum of
 * G_means (and its class and cross parts) equals the dense eigenvalues; G_means + G_within
 * equals the GGN assembled from exact products; the averaging basis spans the dense top
 * eigenvectors; the G_means operator is the dense G_means. */
#include <hesse/analysis.h>

#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NS 12 /* samples */

static void run(hesse_loss_kind loss) {
    const int C = 3;
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("flatten,linear(4,5),tanh,linear(5,3)", 1, 2, 2, loss, &m) ==
            HESSE_OK);
    hesse_model_init(m, 21);
    const int64_t n = hesse_model_num_params(m);
    hesse_samples s;
    REQUIRE(hesse_samples_alloc(NS, 1, 2, 2, C, &s) == HESSE_OK);
    hesse_rng r;
    hesse_rng_seed(&r, 8);
    for (int i = 0; i < NS * 4; i++) s.x[i] = hesse_rng_normal(&r);
    const int32_t labels[NS] = {0, 1, 2, 0, 0, 1, 2, 2, 0, 1, 0, 0}; /* 6, 3, 3 */
    memcpy(s.y, labels, sizeof labels);
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 5;
    ep.max_block = 8;
    ep.threads = 3; /* class means through the workers' backward passes */
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);

    /* per-sample deltas from finite-difference Jacobians */
    double *theta = hesse_model_params(m), Z[NS * 3], Zp[NS * 3], Zm[NS * 3];
    double *J = malloc((size_t)(NS * C * n) * sizeof *J);
    REQUIRE(hesse_forward(e, &s, Z) == HESSE_OK);
    for (int64_t p = 0; p < n; p++) {
        double t = theta[p];
        theta[p] = t + 1e-5;
        REQUIRE(hesse_forward(e, &s, Zp) == HESSE_OK);
        theta[p] = t - 1e-5;
        REQUIRE(hesse_forward(e, &s, Zm) == HESSE_OK);
        theta[p] = t;
        for (int k = 0; k < NS * C; k++) J[(int64_t)k * n + p] = (Zp[k] - Zm[k]) / 2e-5;
    }
    double *D = calloc((size_t)(NS * C * n), sizeof *D); /* delta_{i,c'} at (i*C + c') * n */
    for (int i = 0; i < NS; i++) {
        double pr[3], mx = fmax(Z[i * 3], fmax(Z[i * 3 + 1], Z[i * 3 + 2])), sum = 0;
        for (int c = 0; c < C; c++) sum += pr[c] = exp(Z[i * 3 + c] - mx);
        for (int c = 0; c < C; c++) pr[c] /= sum;
        for (int c1 = 0; c1 < C; c1++)
            for (int c = 0; c < C; c++) {
                double g = loss == HESSE_LOSS_MSE ? (c == c1 ? sqrt(2.0 / C) : 0.0)
                                                  : sqrt(pr[c1]) * ((c == c1) - pr[c]);
                for (int64_t p = 0; p < n; p++)
                    D[(int64_t)(i * C + c1) * n + p] += g * J[(int64_t)(i * C + c) * n + p];
            }
    }
    /* class means, G_means and G_within assembled densely */
    double pi[3] = {6.0 / NS, 3.0 / NS, 3.0 / NS}, nc[3] = {6, 3, 3};
    double *mean = calloc((size_t)(C * C * n), sizeof *mean);
    for (int i = 0; i < NS; i++)
        for (int c1 = 0; c1 < C; c1++)
            for (int64_t p = 0; p < n; p++)
                mean[(int64_t)(labels[i] * C + c1) * n + p] +=
                    D[(int64_t)(i * C + c1) * n + p] / nc[labels[i]];
    double *Gm = calloc((size_t)(n * n), sizeof *Gm), *Gw = calloc((size_t)(n * n), sizeof *Gw);
    for (int c = 0; c < C; c++)
        for (int c1 = 0; c1 < C; c1++) {
            const double *d = mean + (int64_t)(c * C + c1) * n;
            for (int64_t a = 0; a < n; a++)
                for (int64_t b = 0; b < n; b++) Gm[a * n + b] += pi[c] * d[a] * d[b];
        }
    for (int i = 0; i < NS; i++)
        for (int c1 = 0; c1 < C; c1++) {
            const double *d = D + (int64_t)(i * C + c1) * n,
                         *mu = mean + (int64_t)(labels[i] * C + c1) * n;
            for (int64_t a = 0; a < n; a++)
                for (int64_t b = 0; b < n; b++)
                    Gw[a * n + b] += (d[a] - mu[a]) * (d[b] - mu[b]) / NS;
        }

    hesse_class_means cm;
    REQUIRE(hesse_class_means_compute(e, &s, &cm) == HESSE_OK);
    CHECK(cm.C == C && cm.counts[0] == 6 && cm.pi[1] == 3.0 / NS && cm.passes == C * C);
    double err = 0, scale = 0;
    for (int64_t k = 0; k < C * C * n; k++) {
        err = fmax(err, fabs(cm.delta[k] - mean[k]));
        scale = fmax(scale, fabs(mean[k]));
    }
    /* finite-difference Jacobians: 1e-8 of the largest mean is a safe margin over ~1e-10 */
    CHECK_MSG(err <= 1e-8 * scale, "class means vs finite differences: %.3g", err / scale);

    /* Gram spectrum = the dense top C^2 eigenvalues of G_means */
    double *w = malloc((size_t)n * sizeof *w), *A = malloc((size_t)(n * n) * sizeof *A);
    memcpy(A, Gm, (size_t)(n * n) * sizeof *A);
    REQUIRE(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, A, (lapack_int)n, w) == 0);
    double *vals = NULL, *basis = malloc((size_t)(3 * n) * sizeof *basis);
    int count = 0;
    REQUIRE(hesse_class_spectrum(&cm, HESSE_MEANS_ALL, &vals, &count, 3, basis) == HESSE_OK);
    CHECK(count == C * C);
    double ev_err = 0;
    for (int j = 0; j < count; j++) ev_err = fmax(ev_err, fabs(vals[j] - w[n - 1 - j]));
    CHECK_MSG(ev_err <= 1e-8 * w[n - 1], "Gram spectrum vs dense G_means: %.3g", ev_err / w[n - 1]);
    /* the averaging basis spans the dense top 3 eigenvectors */
    double ov = hesse_subspace_overlap(n, 3, basis, 3, A + (n - 3) * n);
    CHECK_MSG(ov > 1 - 1e-8, "averaging basis overlap %.12f", ov);
    double tr_all = 0, tr_parts = 0;
    for (int j = 0; j < count; j++) tr_all += vals[j];
    hesse_free(vals);
    for (int part = HESSE_MEANS_CLASS; part <= HESSE_MEANS_CROSS; part++) {
        REQUIRE(hesse_class_spectrum(&cm, (hesse_means_part)part, &vals, &count, 0, NULL) ==
                HESSE_OK);
        CHECK(count == (part == HESSE_MEANS_CLASS ? C : C * (C - 1)));
        for (int j = 0; j < count; j++) tr_parts += vals[j];
        hesse_free(vals);
    }
    CHECK_CLOSE(tr_all, tr_parts, 1e-12, 1e-300); /* tr G_means = tr G_class + tr G_cross */

    /* G_means + G_within = G (exact products) */
    hesse_op G;
    REQUIRE(hesse_op_curvature(e, &s, HESSE_CURV_GGN, &G) == HESSE_OK);
    double *Gd = malloc((size_t)(n * n) * sizeof *Gd);
    REQUIRE(hesse_op_to_dense(&G, 8, Gd, NULL, NULL) == HESSE_OK);
    double gerr = 0, gmax = 0;
    for (int64_t k = 0; k < n * n; k++) {
        gerr = fmax(gerr, fabs(Gm[k] + Gw[k] - Gd[k]));
        gmax = fmax(gmax, fabs(Gd[k]));
    }
    CHECK_MSG(gerr <= 1e-8 * gmax, "G_means + G_within vs G: %.3g", gerr / gmax);

    /* the G_means operator is S S^T */
    hesse_op Mop;
    REQUIRE(hesse_op_class_means(&cm, HESSE_MEANS_ALL, &Mop) == HESSE_OK);
    REQUIRE(hesse_op_to_dense(&Mop, 4, A, NULL, NULL) == HESSE_OK);
    double merr = 0;
    for (int64_t k = 0; k < n * n; k++) merr = fmax(merr, fabs(A[k] - Gm[k]));
    CHECK_MSG(merr <= 1e-8 * w[n - 1], "G_means operator: %.3g", merr / w[n - 1]);

    hesse_op_free(&Mop);
    hesse_op_free(&G);
    hesse_class_means_free(&cm);
    free(Gd);
    free(w);
    free(A);
    free(basis);
    free(J);
    free(D);
    free(mean);
    free(Gm);
    free(Gw);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_model_free(m);
}

/* One output: no decomposition into classes; a clear error, not an empty or failed eigensolve
 * later. */
static void one_output(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("flatten,linear(4,1)", 1, 2, 2, HESSE_LOSS_MSE, &m) == HESSE_OK);
    hesse_model_init(m, 1);
    hesse_samples s;
    REQUIRE(hesse_samples_alloc(4, 1, 2, 2, 1, &s) == HESSE_OK);
    for (int i = 0; i < 16; i++) s.x[i] = 0.25 * i;
    for (int i = 0; i < 4; i++) s.y[i] = 0;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, NULL, &e) == HESSE_OK);
    hesse_class_means cm;
    CHECK(hesse_class_means_compute(e, &s, &cm) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "needs at least 2 classes") != NULL);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_model_free(m);
}

int main(void) {
    run(HESSE_LOSS_CROSS_ENTROPY);
    run(HESSE_LOSS_MSE);
    one_output();
    return test_summary("test_classes");
}
