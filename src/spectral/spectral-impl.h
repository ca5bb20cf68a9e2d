/* Internal helpers shared by the files of spectral/ (not installed). Inputs are assumed valid:
 * the public entry points check them. */
#ifndef HESSE_SPECTRAL_IMPL_H
#define HESSE_SPECTRAL_IMPL_H

#include <hesse/spectral.h>

/* math.h's M_PI and M_SQRT1_2 are not C11. */
#define HESSE_SP_PI      3.14159265358979323846
#define HESSE_SP_SQRT1_2 0.70710678118654752440

/* Fills x[0 .. n) with Rademacher signs or standard normals from r. */
void hesse_sp_fill(hesse_rng *r, hesse_probe_kind kind, int64_t n, double *x);

/* Orthogonalises w against the j orthonormal columns of V (n x j, leading dimension n) by
 * classical Gram-Schmidt with dgemv, repeating the pass once when the first one removed more
 * than 1 - 1/sqrt(2) of the norm (the criterion of Daniel, Gragg, Kaufman and Stewart, Math.
 * Comp. 30, 1976: "twice is enough"). h[j] receives the total coefficients V^T w (the input
 * w's), h2[j] is scratch. Returns ||w|| after. */
double hesse_sp_orth(int n, int j, const double *V, double *w, double *h, double *h2);

/* Writes into w a unit vector orthogonal to the j columns of V, drawn from r (normal) and
 * orthogonalised twice. Returns 0 when that fails (V spans the space numerically). */
int hesse_sp_random_orth(hesse_rng *r, int n, int j, const double *V, double *w, double *h,
                         double *h2);

/* Eigenvalues theta[m] (ascending) of the symmetric tridiagonal matrix with diagonal
 * alpha[m] and off-diagonal beta[m - 1], and when U is not NULL its eigenvectors (m x m,
 * column-major) by LAPACK dstev. */
int hesse_sp_tridiag_eig(int m, const double *alpha, const double *beta, double *theta, double *U);

/* The memory the basis of a solver may use: `given`, or half of MemAvailable (2 GiB when
 * unknown). */
size_t hesse_sp_budget(size_t given);

/* Allocates d's grid (points equally spaced over [lo, hi]), density and log arrays. */
int hesse_sp_density_grid(hesse_density *d, int points, double lo, double hi, double eps);

/* Scales d->density (>= 0 on entry) so that its trapezoid integral over the grid is 1, and
 * fills log10_density. Fails with HESSE_ENUMERIC when the integral is 0 or not finite. */
int hesse_sp_density_normalise(hesse_density *d);

/* The support used by SLQ and KPM: [lo, hi] given by the caller when lo < hi, otherwise the
 * estimate of hesse_spectral_support widened by `margin` times its width on each side (a
 * degenerate estimate is widened by 1e-3 of its magnitude, at least 1e-12). */
int hesse_sp_support(const hesse_op *op, double lo_given, double hi_given, int steps, double margin,
                     uint64_t seed, double *lo, double *hi, hesse_op_stats *stats);

#endif
