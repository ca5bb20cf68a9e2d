/* Calibration of Hutch++'s standard error on a network's curvature (docs/reproduction.md):
 * the operator (Hessian or GGN of MODEL on the first 300 Fashion-MNIST training samples) is
 * materialised once, its exact trace read from the diagonal, and Hutch++ run for seeds
 * 1..SEEDS at 30 and 99 products; prints the mean and sd of z = (estimate - exact) / stderr,
 * and the same for the plain s / sqrt(g) (stderr / sqrt((g - 1) / (g - 3))).
 * Usage: hutchpp_calibration MODEL hessian|ggn SEEDS (hutchpp_calibration.sh builds it). */
#include <hesse/hesse.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(void) {
    fprintf(stderr, "hutchpp_calibration: %s\n", hesse_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL hessian|ggn SEEDS\n", argv[0]);
        return 2;
    }
    const hesse_curv_kind kind = strcmp(argv[2], "ggn") == 0 ? HESSE_CURV_GGN : HESSE_CURV_HESSIAN;
    const int S = atoi(argv[3]);
    hesse_model *m = NULL;
    hesse_load_options lo = hesse_load_defaults();
    hesse_dataset *ds = NULL;
    hesse_selection sel = hesse_selection_defaults();
    sel.n = 300;
    hesse_samples s;
    hesse_engine_params ep = hesse_engine_defaults();
    hesse_engine *e = NULL;
    hesse_op H, D;
    if (hesse_model_load(argv[1], &lo, &m, NULL) ||
        hesse_dataset_open("fashion-mnist", HESSE_SPLIT_TRAIN, &ds) ||
        hesse_dataset_select(ds, &sel, NULL, &s) || hesse_engine_create(m, &ep, &e) ||
        hesse_op_curvature(e, &s, kind, &H))
        return fail();
    const int64_t n = H.n;
    double *A = malloc(sizeof(double) * (size_t)(n * n));
    if (!A || hesse_op_to_dense(&H, 32, A, NULL, NULL) || hesse_op_dense(n, A, &D)) return fail();
    double tr = 0;
    for (int64_t i = 0; i < n; i++) tr += A[i * n + i];
    const int budgets[2] = {30, 99};
    for (int b = 0; b < 2; b++) {
        const int g = budgets[b] - 2 * (budgets[b] / 3);
        const double f = sqrt((double)(g - 1) / (g - 3));
        double sz = 0, szz = 0;
        for (int k = 1; k <= S; k++) {
            hesse_trace_params p = hesse_trace_defaults();
            p.samples = budgets[b];
            p.seed = (uint64_t)k;
            hesse_trace_result r;
            if (hesse_trace_hutchpp(&D, &p, &r)) return fail();
            const double z = (r.trace - tr) / r.std_error;
            sz += z;
            szz += z * z;
        }
        const double mz = sz / S, sd = sqrt((szz - S * mz * mz) / (S - 1));
        printf("%s %s n %lld trace %.6g, %d products (g %d), %d seeds: z mean %.3f sd %.3f "
               "(plain s/sqrt(g): mean %.3f sd %.3f)\n",
               argv[1], argv[2], (long long)n, tr, budgets[b], g, S, mz, sd, mz * f, sd * f);
    }
    hesse_op_free(&D);
    hesse_op_free(&H);
    free(A);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    hesse_model_free(m);
    return 0;
}
