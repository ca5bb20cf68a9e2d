/* nn/optim.c against torch.optim: SGD (with momentum and weight decay, and plain) and Adam
 * trajectories, StepLR and CosineAnnealingLR learning rates, from
 * tests/data/fixture_optim.safetensors (made by tests/make_optim_fixture.py). */
#include <hesse/io.h>
#include <hesse/nn.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"

static double *read_tensor(const hesse_st_file *f, const char *name, int64_t expect) {
    const hesse_st_tensor *t = hesse_st_find(f, name);
    REQUIRE(t != NULL && t->numel == expect);
    double *v = malloc((size_t)expect * sizeof *v);
    REQUIRE(hesse_st_read_f64(f, t, v) == HESSE_OK);
    return v;
}

/* Runs an optimizer over the fixture's gradients and compares every step. The same
 * arithmetic in the same order as torch.optim agrees to a few ulps of the parameters' scale
 * (PyTorch's vectorised kernels fuse multiply-adds, hesse rounds twice; theta is O(1)), so
 * the bound is 1e-14 relative with an absolute floor of 1. */
static void check_trajectory(const hesse_st_file *f, const char *name, hesse_optim_params p,
                             double lr, int64_t n, int T) {
    double *theta = read_tensor(f, "theta0", n), *grads = read_tensor(f, "grads", (int64_t)T * n);
    double *expect = read_tensor(f, name, (int64_t)T * n), *g = malloc((size_t)n * sizeof *g);
    hesse_optimizer *o = NULL;
    REQUIRE(hesse_optimizer_create(n, &p, &o) == HESSE_OK);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        memcpy(g, grads + (int64_t)t * n, (size_t)n * sizeof *g);
        hesse_optimizer_step(o, lr, theta, g);
        for (int64_t i = 0; i < n; i++) {
            double e = expect[(int64_t)t * n + i];
            worst = fmax(worst, fabs(theta[i] - e) / fmax(fabs(e), 1.0));
        }
    }
    CHECK_MSG(worst <= 1e-14, "%s: worst relative difference %.3g", name, worst);
    hesse_optimizer_free(o);
    free(theta);
    free(grads);
    free(expect);
    free(g);
}

int main(void) {
    const char *dir = getenv("HESSE_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/fixture_optim.safetensors", dir ? dir : "tests/data");
    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(path, &f) == HESSE_OK);
    const int64_t n = 50;
    const int T = 8;

    hesse_optim_params sgd = hesse_optim_defaults(HESSE_OPTIM_SGD);
    sgd.momentum = 0.9;
    sgd.weight_decay = 0.01;
    check_trajectory(f, "sgd", sgd, 0.1, n, T);
    check_trajectory(f, "sgd_plain", hesse_optim_defaults(HESSE_OPTIM_SGD), 0.1, n, T);
    hesse_optim_params adam = hesse_optim_defaults(HESSE_OPTIM_ADAM);
    adam.weight_decay = 0.001;
    check_trajectory(f, "adam", adam, 0.01, n, T);

    double *lr_step = read_tensor(f, "lr_step", 7), *lr_cos = read_tensor(f, "lr_cosine", 7);
    for (int e = 0; e < 7; e++) {
        CHECK_CLOSE(hesse_schedule_lr(HESSE_SCHEDULE_STEP, 0.1, e, 7, 2, 0.5), lr_step[e], 1e-15,
                    1e-300);
        /* PyTorch steps cosine annealing by a recursive ratio; the closed form agrees to
         * rounding accumulated over the epochs (1e-13 relative, with an absolute floor
         * near the schedule's zero at the end). */
        CHECK_CLOSE(hesse_schedule_lr(HESSE_SCHEDULE_COSINE, 0.1, e, 7, 0, 0), lr_cos[e], 1e-13,
                    1e-14);
        CHECK(hesse_schedule_lr(HESSE_SCHEDULE_CONSTANT, 0.1, e, 7, 0, 0) == 0.1);
    }
    free(lr_step);
    free(lr_cos);
    hesse_st_close(f);
    return test_summary("test_optim");
}
