/* Internal helpers shared by the files of spectral/ (not installed). Inputs are assumed valid:
 * the public entry points check them. */
#ifndef HESSE_SPECTRAL_IMPL_H
#define HESSE_SPECTRAL_IMPL_H

#include <hesse/spectral.h>

#include <string.h>

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

/* [a, b] widened by `margin` times its width on each side (a degenerate interval by 1e-3 of its
 * magnitude, at least 1e-12): the rule of hesse_sp_support. */
void hesse_sp_widen(double a, double b, double margin, double *lo, double *hi);
/* Adds coef * exp(-(x - x0)^2 / (2 sigma^2)) to d->density on d->grid: the smoothing kernel of
 * SLQ and of point masses, terms beyond 10 sigma (below 2e-22) skipped. */
void hesse_sp_gauss_add(hesse_density *d, int points, double x0, double sigma, double coef);

/* ---- Checkpoint blobs ---------------------------------------------------------------------
 * Native-order serialisation for solver checkpoints. A writer with p == NULL only measures
 * (used counts the bytes); a reader sets short_read instead of reading past the end and then
 * yields zeros, so a parser checks short_read once after a group of reads. */
typedef struct {
    unsigned char *p;
    size_t used;
} hesse_sp_writer;

static inline void hesse_sp_put(hesse_sp_writer *w, const void *src, size_t bytes) {
    if (w->p && bytes) memcpy(w->p + w->used, src, bytes);
    w->used += bytes;
}
static inline void hesse_sp_put_i32(hesse_sp_writer *w, int32_t x) {
    hesse_sp_put(w, &x, sizeof x);
}
static inline void hesse_sp_put_i64(hesse_sp_writer *w, int64_t x) {
    hesse_sp_put(w, &x, sizeof x);
}
static inline void hesse_sp_put_u64(hesse_sp_writer *w, uint64_t x) {
    hesse_sp_put(w, &x, sizeof x);
}
static inline void hesse_sp_put_f64(hesse_sp_writer *w, double x) {
    hesse_sp_put(w, &x, sizeof x);
}
/* count doubles from src; src is not read when only measuring (it may then be NULL) */
static inline void hesse_sp_put_doubles(hesse_sp_writer *w, const double *src, size_t count) {
    hesse_sp_put(w, w->p ? src : NULL, count * sizeof(double));
}

typedef struct {
    const unsigned char *p;
    size_t size, at;
    int short_read;
} hesse_sp_reader;

static inline void hesse_sp_get(hesse_sp_reader *r, void *dst, size_t bytes) {
    if (r->short_read || bytes > r->size - r->at) {
        r->short_read = 1;
        memset(dst, 0, bytes);
        return;
    }
    memcpy(dst, r->p + r->at, bytes);
    r->at += bytes;
}
static inline int32_t hesse_sp_get_i32(hesse_sp_reader *r) {
    int32_t x;
    hesse_sp_get(r, &x, sizeof x);
    return x;
}
static inline int64_t hesse_sp_get_i64(hesse_sp_reader *r) {
    int64_t x;
    hesse_sp_get(r, &x, sizeof x);
    return x;
}
static inline uint64_t hesse_sp_get_u64(hesse_sp_reader *r) {
    uint64_t x;
    hesse_sp_get(r, &x, sizeof x);
    return x;
}
static inline double hesse_sp_get_f64(hesse_sp_reader *r) {
    double x;
    hesse_sp_get(r, &x, sizeof x);
    return x;
}

/* The header every checkpoint starts with: 8-byte magic, version, byte-order marker. */
#define HESSE_SP_ENDIAN 0x0102030405060708ull
void hesse_sp_put_magic(hesse_sp_writer *w, const char magic[8], uint64_t version);
/* HESSE_EINPUT naming `what` when the magic, version or byte order differ. */
int hesse_sp_get_magic(hesse_sp_reader *r, const char magic[8], uint64_t version, const char *what);

#endif
