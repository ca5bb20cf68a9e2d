/* Warm-started against cold Lanczos on real Hessians along a full-batch gradient descent
 * trajectory: a tanh MLP trained on the first N class-balanced Fashion-MNIST training samples
 * (MSE loss, hesse_optimizer SGD without momentum on the full-batch gradient), measured at
 * step 0 and every K steps: the top-1 and the top-k Hessian eigenvalues at tol, each from a
 * cold start (seed = step + 1) and warm from the previous measurement's Ritz vectors of the
 * same series, with the same Lanczos settings. Prints products per measurement and the
 * totals over the warm-started measurements (all but the first), the largest relative
 * difference between the warm and the cold values, and ("start res") how far the start vectors
 * are from eigenvectors of the new Hessian.
 *
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/bench_warm_gd.c build/libhesse.a \
 *      $(pkg-config --libs openblas lapacke) -lz -lm -lpthread -o bench_warm_gd
 *   OPENBLAS_NUM_THREADS=1 ./bench_warm_gd [samples = 500] [steps = 400] [every = 20]
 *       [lr = 0.1] [top = 5] [verify = 0] [tol = 1e-8] [hidden = 32]
 *
 * Not part of the test suite (no timed assertions). */
#include <hesse/curv.h>
#include <hesse/data.h>
#include <hesse/nn.h>
#include <hesse/spectral.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int top;
    double *prev; /* n x top: the last warm run's vectors */
    int have;
    long long cold, warm;
    double diff;
} series;

static int measure(const hesse_op *H, series *s, int verify, double tol, int step,
                   double *lambda1) {
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = s->top;
    p.tol = tol;
    p.verify = verify;
    p.seed = (uint64_t)step + 1;
    hesse_eigs c, w;
    if (hesse_lanczos_eigs(H, &p, &c) != HESSE_OK) return 1;
    if (s->have) {
        p.start = s->prev;
        p.nstart = s->top;
    }
    if (hesse_lanczos_eigs(H, &p, &w) != HESSE_OK) return 1;
    if (s->have) {
        /* How far the start vectors are from eigenvectors of the new Hessian: max over them of
         * ||H x - (x^T H x) x|| / lambda_1 (products outside both counts). */
        double *y = malloc(sizeof(double) * (size_t)H->n), worst = 0.0;
        for (int i = 0; i < s->top; i++) {
            const double *x = s->prev + (size_t)i * H->n;
            H->apply(H->ctx, 1, x, y);
            double th = 0.0, r = 0.0;
            for (int64_t j = 0; j < H->n; j++) th += x[j] * y[j];
            for (int64_t j = 0; j < H->n; j++) r += (y[j] - th * x[j]) * (y[j] - th * x[j]);
            worst = fmax(worst, sqrt(r) / fabs(w.values[0]));
        }
        printf(" start res %.1e", worst);
        free(y);
    }
    double diff = 0.0;
    for (int i = 0; i < s->top; i++)
        diff = fmax(diff, fabs(c.values[i] - w.values[i]) / fabs(c.values[i]));
    if (s->have) {
        s->cold += c.products;
        s->warm += w.products;
        s->diff = fmax(s->diff, diff);
    }
    printf("   top-%d: cold %4lld warm %4lld (%.2f) l_k %.8g diff %.1e%s", s->top,
           (long long)c.products, (long long)w.products, (double)w.products / (double)c.products,
           w.values[s->top - 1], diff,
           c.nconverged < s->top || w.nconverged < s->top ? " (not converged)" : "");
    memcpy(s->prev, w.vectors, sizeof(double) * (size_t)H->n * s->top);
    s->have = 1;
    *lambda1 = w.values[0];
    hesse_eigs_free(&c);
    hesse_eigs_free(&w);
    return 0;
}

int main(int argc, char **argv) {
    hesse_blas_prepare(argc, argv);
    int N = argc > 1 ? atoi(argv[1]) : 500;
    int steps = argc > 2 ? atoi(argv[2]) : 400;
    int every = argc > 3 ? atoi(argv[3]) : 20;
    double lr = argc > 4 ? atof(argv[4]) : 0.1;
    int top = argc > 5 ? atoi(argv[5]) : 5;
    int verify = argc > 6 ? atoi(argv[6]) : 0;
    double tol = argc > 7 ? atof(argv[7]) : 1e-8;
    int hidden = argc > 8 ? atoi(argv[8]) : 32;
    hesse_dataset *ds = NULL;
    hesse_samples smp = {0};
    hesse_model *m = NULL;
    hesse_engine *e = NULL;
    hesse_optimizer *o = NULL;
    char arch[128];
    snprintf(arch, sizeof arch, "flatten,linear(784,%d),tanh,linear(%d,%d),tanh,linear(%d,10)",
             hidden, hidden, hidden, hidden);
    if (hesse_dataset_open("fashion-mnist", HESSE_SPLIT_TRAIN, &ds) != HESSE_OK) goto fail;
    hesse_selection sel = hesse_selection_defaults();
    sel.mode = HESSE_SELECT_BALANCED;
    sel.n = N;
    if (hesse_dataset_select(ds, &sel, NULL, &smp) != HESSE_OK) goto fail;
    if (hesse_model_create(arch, 1, 28, 28, HESSE_LOSS_MSE, &m) != HESSE_OK) goto fail;
    hesse_model_init(m, 1);
    hesse_engine_params ep = hesse_engine_defaults();
    if (hesse_engine_create(m, &ep, &e) != HESSE_OK) goto fail;
    int64_t n = hesse_model_num_params(m);
    hesse_optim_params op = hesse_optim_defaults(HESSE_OPTIM_SGD);
    if (hesse_optimizer_create(n, &op, &o) != HESSE_OK) goto fail;
    double *grad = malloc(sizeof(double) * (size_t)n);
    series s1 = {1, malloc(sizeof(double) * (size_t)n), 0, 0, 0, 0.0};
    series sk = {top, malloc(sizeof(double) * (size_t)n * top), 0, 0, 0, 0.0};
    printf("%s, n = %lld parameters, %d samples, lr %g, verify %d, tol %g\n", arch, (long long)n, N,
           lr, verify, tol);
    int nmeas = 0;
    for (int step = 0; step <= steps; step++) {
        double loss;
        int64_t correct = 0;
        if (hesse_loss_grad(e, &smp, &loss, grad, &correct) != HESSE_OK) goto fail;
        if (step % every == 0 || step == steps) {
            hesse_op H;
            if (hesse_op_curvature(e, &smp, HESSE_CURV_HESSIAN, &H) != HESSE_OK) goto fail;
            double l1, lk;
            printf("step %4d loss %.5f acc %.3f", step, loss, (double)correct / N);
            if (measure(&H, &s1, verify, tol, step, &l1) ||
                measure(&H, &sk, verify, tol, step, &lk))
                goto fail;
            printf("  lambda1 %.6g (2/lr %.4g)\n", l1, 2.0 / lr);
            fflush(stdout);
            hesse_op_free(&H);
            nmeas++;
        }
        if (step < steps) hesse_optimizer_step(o, lr, hesse_model_params(m), grad);
    }
    printf(
        "%d measurements; warm-started ones (%d): top-1 cold %lld warm %lld ratio %.3f (max diff "
        "%.1e); top-%d cold %lld warm %lld ratio %.3f (max diff %.1e)\n",
        nmeas, nmeas - 1, s1.cold, s1.warm, (double)s1.warm / (double)s1.cold, s1.diff, top,
        sk.cold, sk.warm, (double)sk.warm / (double)sk.cold, sk.diff);
    return 0;
fail:
    fprintf(stderr, "%s\n", hesse_last_error());
    return 1;
}
