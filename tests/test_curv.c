/* curv/network.c: the network operator, layer restriction and tensor selection. The
 * restricted operator must be exactly the corresponding block of the full dense Hessian. */
#include <hesse/curv.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("flatten,linear(6,4),tanh,linear(4,3)", 1, 2, 3,
                               HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    hesse_model_init(m, 9);
    hesse_samples s;
    REQUIRE(hesse_samples_alloc(10, 1, 2, 3, 3, &s) == HESSE_OK);
    hesse_rng r;
    hesse_rng_seed(&r, 4);
    for (int i = 0; i < 60; i++) s.x[i] = hesse_rng_normal(&r);
    for (int i = 0; i < 10; i++) s.y[i] = i % 3;
    hesse_engine_params ep = hesse_engine_defaults();
    ep.max_block = 4;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);
    hesse_op H = {0}, B = {0};
    REQUIRE(hesse_op_curvature(e, &s, HESSE_CURV_HESSIAN, &H) == HESSE_OK);
    const int64_t n = H.n;
    CHECK(n == 28 + 15);

    /* Tensor selection: layer index, full names, lists, and a helpful error. */
    int sel[8], count = 0;
    CHECK(hesse_select_tensors(m, "1", sel, 8, &count) == HESSE_OK && count == 2 && sel[0] == 0 &&
          sel[1] == 1);
    CHECK(hesse_select_tensors(m, "3.weight,1.bias", sel, 8, &count) == HESSE_OK && count == 2 &&
          sel[0] == 1 && sel[1] == 2);
    CHECK(hesse_select_tensors(m, "2", sel, 8, &count) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "'2'") && strstr(hesse_last_error(), "3.bias"));

    /* The block of 1.bias and 3.weight: offsets 24 (4 values) and 28 (12 values). */
    int64_t off[2], len[2];
    for (int i = 0; i < 2; i++) {
        off[i] = hesse_model_tensor(m, sel[i])->offset;
        len[i] = hesse_model_tensor(m, sel[i])->count;
    }
    CHECK(off[0] == 24 && len[0] == 4 && off[1] == 28 && len[1] == 12);
    REQUIRE(hesse_op_restrict(&H, 2, off, len, &B) == HESSE_OK);
    CHECK(B.n == 16);
    double *A = malloc((size_t)(n * n) * sizeof *A), *Ab = malloc(16 * 16 * sizeof *Ab);
    hesse_op_stats st = {0, 0, 0};
    REQUIRE(hesse_op_to_dense(&H, 8, A, NULL, &st) == HESSE_OK);
    CHECK(st.products == n);
    REQUIRE(hesse_op_to_dense(&B, 5, Ab, NULL, NULL) == HESSE_OK);
    int64_t idx[16];
    for (int i = 0; i < 4; i++) idx[i] = 24 + i;
    for (int i = 0; i < 12; i++) idx[4 + i] = 28 + i;
    /* Same products, other block sizes: equal to rounding (1e-13 of the largest entry). */
    double amax = 0, err = 0;
    for (int i = 0; i < n * n; i++) amax = fmax(amax, fabs(A[i]));
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) err = fmax(err, fabs(Ab[j * 16 + i] - A[idx[j] * n + idx[i]]));
    CHECK_MSG(err <= 1e-13 * amax, "restricted block differs by %.3g", err);
    int64_t bad_off[2] = {28, 24};
    hesse_op bad;
    CHECK(hesse_op_restrict(&H, 2, bad_off, len, &bad) == HESSE_EINVAL); /* out of order */

    free(A);
    free(Ab);
    hesse_op_free(&B);
    hesse_op_free(&H);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_model_free(m);
    return test_summary("test_curv");
}
