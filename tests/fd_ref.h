/* Finite-difference references for the tests of nn (test_nn.c, test_arch_graph.c),
 * independent of the engine's backward and R-passes: the gradient by central differences of
 * the loss, Hessian-vector products by central differences of the gradient, and Gauss-Newton
 * products J^T A J v with J the Jacobian of the logits by central differences and A the loss
 * Hessian in the logits written out here (softmax cross-entropy or MSE, both with
 * reduction='mean'; at most 16 classes). Each perturbs the engine's model's parameters theta
 * and restores them bit for bit (the engine's cache key is bitwise). */
#ifndef HESSE_TESTS_FD_REF_H
#define HESSE_TESTS_FD_REF_H

#include <hesse/nn.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static double fd_norm(const double *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i] * v[i];
    return sqrt(s);
}

/* The largest |a_i - b_i|. */
static inline double fd_max_abs_diff(const double *a, const double *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static double fd_loss(hesse_engine *e, const hesse_samples *s) {
    double L = 0;
    REQUIRE(hesse_loss_grad(e, s, &L, NULL, NULL) == HESSE_OK);
    return L;
}

/* The gradient by central differences with step h, every coordinate, into out (unless
 * NULL); returns the largest |dL/dtheta_i - g_i|. */
static double fd_gradient(hesse_engine *e, const hesse_samples *s, double *theta, int64_t n,
                          double h, const double *g, double *out) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        const double t = theta[i];
        theta[i] = t + h;
        const double lp = fd_loss(e, s);
        theta[i] = t - h;
        const double lm = fd_loss(e, s);
        theta[i] = t;
        const double d = (lp - lm) / (2 * h);
        if (out) out[i] = d;
        worst = fmax(worst, fabs(d - g[i]));
    }
    return worst;
}

/* out = H v by central differences D(h) of the gradient along v; with `richardson`, the
 * extrapolation (4 D(h/2) - D(h)) / 3, which cancels the h^2 term. */
static void fd_hvp(hesse_engine *e, const hesse_samples *s, double *theta, int64_t n,
                   const double *v, double h, int richardson, double *out) {
    double *theta0 = malloc((size_t)n * sizeof *theta0), *gp = malloc((size_t)n * sizeof *gp),
           *gm = malloc((size_t)n * sizeof *gm);
    REQUIRE(theta0 && gp && gm);
    memcpy(theta0, theta, (size_t)n * sizeof *theta);
    for (int half = 0; half < (richardson ? 2 : 1); half++) {
        const double hh = half ? h / 2 : h;
        double loss;
        for (int64_t i = 0; i < n; i++) theta[i] = theta0[i] + hh * v[i];
        REQUIRE(hesse_loss_grad(e, s, &loss, gp, NULL) == HESSE_OK);
        for (int64_t i = 0; i < n; i++) theta[i] = theta0[i] - hh * v[i];
        REQUIRE(hesse_loss_grad(e, s, &loss, gm, NULL) == HESSE_OK);
        for (int64_t i = 0; i < n; i++) {
            const double d = (gp[i] - gm[i]) / (2 * hh);
            out[i] = half ? (4 * d - out[i]) / 3 : d;
        }
    }
    memcpy(theta, theta0, (size_t)n * sizeof *theta);
    free(theta0);
    free(gp);
    free(gm);
}

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

/* Symmetry of a curvature matrix from its products: u^T (H v) = v^T (H u) for the first two
 * columns u, v of V (n x k, column-major) and their products HV, up to rounding in the
 * accumulated products (1e-11 relative). */
static inline void fd_check_symmetry(const double *V, const double *HV, int64_t n) {
    double uHv = 0, vHu = 0;
    for (int64_t i = 0; i < n; i++) {
        uHv += V[i] * HV[n + i];
        vHu += V[n + i] * HV[i];
    }
    CHECK_CLOSE(uHv, vHu, 1e-11, 1e-8);
}

#endif /* HESSE_TESTS_FD_REF_H */
