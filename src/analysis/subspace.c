/* Subspace overlaps and outlier counts, shared by the analyses. */
#include <hesse/analysis.h>

#include <cblas.h>
#include <math.h>

double hesse_subspace_overlap(int64_t n, int k1, const double *V1, int k2, const double *V2) {
    if (k1 < 1 || k2 < 1 || n < 1) return 0.0;
    double *P = hesse_alloc(sizeof(double) * (size_t)k1 * (size_t)k2);
    if (!P) return NAN;
    /* P = V1^T V2 (k1 x k2) */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k1, k2, (int)n, 1.0, V1, (int)n, V2,
                (int)n, 0.0, P, k1);
    double f = 0.0;
    for (int64_t i = 0; i < (int64_t)k1 * k2; i++) f += P[i] * P[i];
    hesse_free(P);
    return f / (k1 < k2 ? k1 : k2);
}

int hesse_outlier_count(const double *desc, int count, double *gap_ratio) {
    int best = 0;
    double ratio = 1.0;
    for (int k = 1; k < count; k++) {
        if (!(desc[k] > 0.0) || !(desc[k - 1] > 0.0)) break;
        double r = desc[k - 1] / desc[k];
        if (r > ratio) {
            ratio = r;
            best = k;
        }
    }
    if (gap_ratio) *gap_ratio = best ? ratio : 1.0;
    return best;
}
