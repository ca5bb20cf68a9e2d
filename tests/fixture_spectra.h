/* Helpers of the PyTorch parity tests that compare per-tensor expectations and spectra
 * (test_resnet_fixtures.c, test_transformer_fixtures.c): gathering expected tensors by name
 * into hesse's parameter order, the dense spectrum of a curvature operator and the Lanczos
 * extremes, each returned as its largest relative error for the caller to bound. */
#ifndef HESSE_TESTS_FIXTURE_SPECTRA_H
#define HESSE_TESTS_FIXTURE_SPECTRA_H

#include <hesse/curv.h>
#include <hesse/io.h>
#include <hesse/nn.h>
#include <hesse/spectral.h>

#include <string.h>

#include "check.h"
#include "fixture_util.h"

/* The expected "<prefix>/<tensor>" of every parameter tensor, rows of `rows` vectors each
 * ([rows, *shape] in the file), laid out as hesse's parameter vector: column j at out + j n. */
static inline void fixture_gather(const hesse_st_file *f, const hesse_model *m, const char *prefix,
                                  int rows, double *out) {
    const int64_t n = hesse_model_num_params(m);
    for (int i = 0; i < hesse_model_num_tensors(m); i++) {
        const hesse_tensor_info *ti = hesse_model_tensor(m, i);
        char name[HESSE_NAME_MAX + 16];
        snprintf(name, sizeof name, "%s/%s", prefix, ti->name);
        double *v = fixture_read(f, name, rows * ti->count);
        for (int j = 0; j < rows; j++)
            memcpy(out + j * n + ti->offset, v + j * ti->count, (size_t)ti->count * sizeof *v);
        free(v);
    }
    /* and nothing else: as many expected tensors of this prefix as the model has */
    int found = 0;
    size_t pl = strlen(prefix);
    for (int i = 0; i < hesse_st_count(f); i++)
        found +=
            strncmp(hesse_st_at(f, i)->name, prefix, pl) == 0 && hesse_st_at(f, i)->name[pl] == '/';
    CHECK_MSG(found == hesse_model_num_tensors(m), "%s: %d expected tensors, the model has %d",
              prefix, found, hesse_model_num_tensors(m));
}

/* The dense matrix of `kind` from products (hesse_op_to_dense, blocks of 8) and its
 * eigenvalues (hesse_eigh) against ref (ascending): max |dlambda| / max |lambda|. The matrix
 * must be symmetric to 1e-12 (products of an exact curvature operator). */
static inline double fixture_dense_eig_err(const char *name, hesse_engine *e,
                                           const hesse_samples *s, hesse_curv_kind kind,
                                           const double *ref) {
    const int64_t n = hesse_engine_num_params(e);
    hesse_op op;
    REQUIRE(hesse_op_curvature(e, s, kind, &op) == HESSE_OK);
    double *A = malloc((size_t)(n * n) * sizeof *A), *ev = malloc((size_t)n * sizeof *ev);
    REQUIRE(A && ev);
    double asym = -1;
    hesse_op_stats st = {0};
    REQUIRE(hesse_op_to_dense(&op, 8, A, &asym, &st) == HESSE_OK);
    CHECK_MSG(asym >= 0 && asym <= 1e-12, "%s: %s asymmetry %.3g", name, hesse_curv_name(kind),
              asym);
    REQUIRE(hesse_eigh(n, A, ev, NULL) == HESSE_OK);
    double err = fixture_max_rel(ev, ref, n);
    hesse_op_free(&op);
    free(A);
    free(ev);
    return err;
}

/* The 4 largest and 4 smallest Hessian eigenvalues by thick-restart Lanczos (residual
 * tolerance 1e-11 ||H||) against ref (ascending, n values): max |dlambda| / max |lambda|. */
static inline double fixture_lanczos_err(hesse_engine *e, const hesse_samples *s, const double *ref,
                                         int64_t n) {
    hesse_op op;
    REQUIRE(hesse_op_curvature(e, s, HESSE_CURV_HESSIAN, &op) == HESSE_OK);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = 4;
    p.bottom = 4;
    p.tol = 1e-11;
    p.seed = 5;
    hesse_eigs r = {0};
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    REQUIRE(r.ntop == 4 && r.nbottom == 4);
    CHECK(r.nconverged == 8);
    double scale = fmax(fabs(ref[0]), fabs(ref[n - 1])), d = 0;
    for (int i = 0; i < 4; i++) {
        d = fmax(d, fabs(r.values[i] - ref[n - 1 - i])); /* top, descending */
        d = fmax(d, fabs(r.values[4 + i] - ref[i]));     /* bottom, ascending */
    }
    hesse_eigs_free(&r);
    hesse_op_free(&op);
    return d / scale;
}

#endif
