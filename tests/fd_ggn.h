/* A reference for Gauss-Newton products, independent of the engine's R-passes: J^T A J v
 * with J the Jacobian of the logits by central differences (step h) and A the loss Hessian in
 * the logits written out here (softmax cross-entropy or MSE, both with reduction='mean').
 * For the tests of nn (test_nn.c, test_arch_graph.c); at most 16 classes. */
#ifndef HESSE_TESTS_FD_GGN_H
#define HESSE_TESTS_FD_GGN_H

#include <hesse/nn.h>

#include <math.h>
#include <stdlib.h>

#include "check.h"

/* ref (length n, overwritten) = J^T A J v at the parameters theta (the engine's model's,
 * perturbed and restored here). */
static void fd_ggn_reference(hesse_engine *e, const hesse_samples *s, double *theta, int64_t n,
                             int C, hesse_loss_kind loss, double h, const double *v, double *ref) {
    double *Z = malloc((size_t)(s->n * C) * sizeof *Z),
           *Zp = malloc((size_t)(s->n * C) * sizeof *Z),
           *Zm = malloc((size_t)(s->n * C) * sizeof *Z);
    double *J = malloc((size_t)(s->n * C * n) * sizeof *J); /* J[(i*C + c) * n + p] */
    REQUIRE(Z && Zp && Zm && J && C <= 16);
    REQUIRE(hesse_forward(e, s, Z) == HESSE_OK);
    for (int64_t p = 0; p < n; p++) {
        double t = theta[p];
        theta[p] = t + h;
        REQUIRE(hesse_forward(e, s, Zp) == HESSE_OK);
        theta[p] = t - h;
        REQUIRE(hesse_forward(e, s, Zm) == HESSE_OK);
        theta[p] = t;
        for (int64_t r = 0; r < s->n * C; r++) J[r * n + p] = (Zp[r] - Zm[r]) / (2 * h);
    }
    for (int64_t p = 0; p < n; p++) ref[p] = 0;
    for (int64_t i = 0; i < s->n; i++) {
        double Jv[16], AJv[16];
        for (int c = 0; c < C; c++) {
            Jv[c] = 0;
            for (int64_t p = 0; p < n; p++) Jv[c] += J[(i * C + c) * n + p] * v[p];
        }
        if (loss == HESSE_LOSS_CROSS_ENTROPY) {
            double zmax = -INFINITY, sum = 0, pr[16];
            for (int c = 0; c < C; c++) zmax = fmax(zmax, Z[i * C + c]);
            for (int c = 0; c < C; c++) sum += pr[c] = exp(Z[i * C + c] - zmax);
            for (int c = 0; c < C; c++) pr[c] /= sum;
            for (int c = 0; c < C; c++) {
                AJv[c] = pr[c] * Jv[c];
                for (int d = 0; d < C; d++) AJv[c] -= pr[c] * pr[d] * Jv[d];
                AJv[c] /= (double)s->n;
            }
        } else {
            for (int c = 0; c < C; c++) AJv[c] = 2.0 * Jv[c] / ((double)s->n * C);
        }
        for (int c = 0; c < C; c++)
            for (int64_t p = 0; p < n; p++) ref[p] += J[(i * C + c) * n + p] * AJv[c];
    }
    free(Z);
    free(Zp);
    free(Zm);
    free(J);
}

#endif
