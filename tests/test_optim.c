/* nn/optim.c against torch.optim: SGD (with momentum and weight decay, and plain), Adam and
 * AdamW trajectories, StepLR, CosineAnnealingLR and warm-up + cosine learning rates, and a
 * small tanh net trained with AdamW under the warm-up + cosine schedule, from
 * tests/data/fixture_optim.safetensors (made by tests/make_optim_fixture.py). */
#include <hesse/io.h>
#include <hesse/nn.h>

#include <stdio.h>
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

/* The per-step warm-up + cosine rates (lr 0.1, S = 10, W = 3) against LambdaLR, which
 * evaluates the same closed form in the same order (1e-15 relative), against SequentialLR(
 * LinearLR, CosineAnnealingLR), whose cosine part is recursive (1e-13, as for the per-epoch
 * cosine above), and W = 0 against CosineAnnealingLR(T_max = S) stepped per step. */
static void check_warmup_cosine(const hesse_st_file *f) {
    double *lam = read_tensor(f, "lr_warmup_cosine", 10);
    double *seq = read_tensor(f, "lr_warmup_cosine_seq", 10);
    double *cos0 = read_tensor(f, "lr_cosine_steps", 10);
    for (int64_t s = 0; s < 10; s++) {
        double lr = hesse_schedule_warmup_cosine(0.1, s, 10, 3);
        CHECK_CLOSE(lr, lam[s], 1e-15, 1e-300);
        CHECK_CLOSE(lr, seq[s], 1e-13, 1e-14);
        CHECK_CLOSE(hesse_schedule_warmup_cosine(0.1, s, 10, 0), cos0[s], 1e-13, 1e-14);
    }
    free(lam);
    free(seq);
    free(cos0);
}

/* The net of the fixture (Linear(4, 5), Tanh, Linear(5, 3), cross-entropy) trained by hesse's
 * gradient, optimizer and schedule over the same minibatches in the same order as PyTorch:
 * every step's parameters within 1e-12 relative (floor 1). The two gradients differ by
 * rounding (~1e-16); nine Adam steps normalise them by sqrt(v) ~ |g| of O(0.1) components,
 * which keeps the difference near 1e-15; a wrong decay, bias correction or schedule step is
 * O(1e-4) or larger. */
static void check_net(const hesse_st_file *f) {
    const int N = 12, B = 4, S = 9, W = 3;
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("linear(4,5),tanh,linear(5,3)", 4, 1, 1, HESSE_LOSS_CROSS_ENTROPY,
                               &m) == HESSE_OK);
    const int64_t n = hesse_model_num_params(m);
    REQUIRE(n == 43);
    double *theta0 = read_tensor(f, "net_theta0", n), *traj = read_tensor(f, "net_traj", S * n);
    double *x = read_tensor(f, "net_x", N * 4), *y = read_tensor(f, "net_y", N);
    double *lrs = read_tensor(f, "net_lr", S), *g = malloc((size_t)n * sizeof *g);
    double *theta = hesse_model_params(m);
    memcpy(theta, theta0, (size_t)n * sizeof *theta);
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, NULL, &e) == HESSE_OK);
    hesse_samples batch = {0};
    REQUIRE(hesse_samples_alloc(B, 4, 1, 1, 3, &batch) == HESSE_OK);
    hesse_optimizer *o = NULL;
    hesse_optim_params p = hesse_optim_defaults(HESSE_OPTIM_ADAMW); /* weight_decay 0.01 */
    REQUIRE(hesse_optimizer_create(n, &p, &o) == HESSE_OK);
    double worst = 0, lr_worst = 0;
    for (int s = 0; s < S; s++) {
        const int b0 = (s % (N / B)) * B;
        memcpy(batch.x, x + b0 * 4, (size_t)(B * 4) * sizeof *x);
        for (int i = 0; i < B; i++) batch.y[i] = (int32_t)y[b0 + i];
        double loss = 0, lr = hesse_schedule_warmup_cosine(0.05, s, S, W);
        REQUIRE(hesse_loss_grad(e, &batch, &loss, g, NULL) == HESSE_OK);
        hesse_optimizer_step(o, lr, theta, g);
        lr_worst = fmax(lr_worst, fabs(lr - lrs[s]) / lrs[s]);
        for (int64_t i = 0; i < n; i++) {
            double ex = traj[(int64_t)s * n + i];
            worst = fmax(worst, fabs(theta[i] - ex) / fmax(fabs(ex), 1.0));
        }
    }
    CHECK_MSG(lr_worst <= 1e-15, "net: learning rates differ by %.3g relative", lr_worst);
    CHECK_MSG(worst <= 1e-12, "net: AdamW + warm-up/cosine trajectory: worst relative %.3g", worst);
    printf("net: AdamW + warmup-cosine, %d steps: worst relative difference %.3g\n", S, worst);
    hesse_optimizer_free(o);
    hesse_samples_free(&batch);
    hesse_engine_free(e);
    hesse_model_free(m);
    free(theta0);
    free(traj);
    free(x);
    free(y);
    free(lrs);
    free(g);
}

/* hesse_optimizer_preconditioner after each of 8 Adam/AdamW steps against torch's
 * (exp_avg_sq / (1 - beta2^t)).sqrt() + eps (tests/make_gd_fixture.py). The same three
 * operations on the same moments, whose recurrences match to rounding: 1e-12 relative leaves
 * room for a few ulps; a missing bias correction is off by up to 1/sqrt(1 - 0.999) = 32x. */
static void check_preconditioner(const hesse_st_file *f, hesse_optim_kind kind, double wd,
                                 const char *name) {
    const int64_t n = 40;
    const int T = 8;
    double *theta = read_tensor(f, "adam_theta0", n), *grads = read_tensor(f, "adam_grads", T * n);
    double *expect = read_tensor(f, name, T * n), *g = malloc((size_t)n * sizeof *g);
    double *diag = malloc((size_t)n * sizeof *diag);
    hesse_optim_params p = hesse_optim_defaults(kind);
    p.weight_decay = wd;
    hesse_optimizer *o = NULL;
    REQUIRE(hesse_optimizer_create(n, &p, &o) == HESSE_OK);
    CHECK(hesse_optimizer_preconditioner(o, diag) == HESSE_EINVAL); /* none before a step */
    CHECK(hesse_optimizer_beta1(o) == 0.9);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        memcpy(g, grads + (int64_t)t * n, (size_t)n * sizeof *g);
        hesse_optimizer_step(o, 0.01, theta, g);
        REQUIRE(hesse_optimizer_preconditioner(o, diag) == HESSE_OK);
        for (int64_t i = 0; i < n; i++) {
            const double e = expect[(int64_t)t * n + i];
            worst = fmax(worst, fabs(diag[i] - e) / e);
        }
    }
    CHECK_MSG(worst <= 1e-12, "%s: preconditioner worst relative difference %.3g", name, worst);
    printf("%s: preconditioner over %d steps: worst relative difference %.3g\n", name, T, worst);
    hesse_optimizer_free(o);
    free(theta);
    free(grads);
    free(expect);
    free(g);
    free(diag);
}

/* GD: no momentum whatever the params say (torch.optim.SGD(lr) is the reference), weight decay
 * added to the gradient, no preconditioner, beta1 0. */
static void check_gd(const hesse_st_file *f) {
    hesse_optim_params gd = hesse_optim_defaults(HESSE_OPTIM_GD);
    gd.momentum = 0.9; /* ignored */
    check_trajectory(f, "sgd_plain", gd, 0.1, 50, 8);
    hesse_optim_kind kind = HESSE_OPTIM_SGD;
    CHECK(hesse_optim_parse("gd", &kind) == HESSE_OK && kind == HESSE_OPTIM_GD);
    CHECK(strcmp(hesse_optim_name(HESSE_OPTIM_GD), "gd") == 0);
    hesse_optimizer *o = NULL;
    REQUIRE(hesse_optimizer_create(2, &gd, &o) == HESSE_OK);
    double theta[2] = {1, -2}, g[2] = {0.5, 0.25}, diag[2];
    hesse_optimizer_free(o);
    gd.weight_decay = 0.1;
    REQUIRE(hesse_optimizer_create(2, &gd, &o) == HESSE_OK);
    hesse_optimizer_step(o, 0.5, theta, g); /* theta -= 0.5 (g + 0.1 theta) */
    CHECK_CLOSE(theta[0], 1 - 0.5 * (0.5 + 0.1), 1e-15, 1e-300);
    CHECK_CLOSE(theta[1], -2 - 0.5 * (0.25 - 0.2), 1e-15, 1e-300);
    CHECK(hesse_optimizer_preconditioner(o, diag) == HESSE_EINVAL);
    CHECK(hesse_optimizer_beta1(o) == 0.0);
    hesse_optimizer_free(o);
}

/* hesse_trainer's state: 4 of 7 steps (mid-epoch: 12 samples in batches of 5, shuffled), saved,
 * loaded into a fresh trainer over a fresh copy of the initial model, and both continued to the
 * end give the same parameters bit for bit; a state refuses a trainer of another batch size. */
static void check_trainer_state(void) {
    hesse_model *m[2] = {NULL, NULL};
    hesse_samples s = {0};
    REQUIRE(hesse_samples_alloc(12, 4, 1, 1, 3, &s) == HESSE_OK);
    for (int i = 0; i < 48; i++) s.x[i] = sin(0.7 * i);
    for (int i = 0; i < 12; i++) s.y[i] = i % 3;
    hesse_trainer_params p = hesse_trainer_defaults();
    p.optim = hesse_optim_defaults(HESSE_OPTIM_ADAM);
    p.epochs = 3;
    p.batch = 5;
    p.seed = 9;
    hesse_trainer *t[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        REQUIRE(hesse_model_create("linear(4,3)", 4, 1, 1, HESSE_LOSS_CROSS_ENTROPY, &m[k]) ==
                HESSE_OK);
        hesse_model_init(m[k], 1);
        REQUIRE(hesse_trainer_create(m[k], &s, &p, &t[k]) == HESSE_OK);
    }
    CHECK(hesse_trainer_steps_total(t[0]) == 9 && hesse_trainer_batches(t[0]) == 3);
    for (int i = 0; i < 4; i++) REQUIRE(hesse_trainer_step(t[0], NULL) == HESSE_OK);
    unsigned char *blob = malloc(hesse_trainer_state_bytes(t[0]));
    hesse_trainer_state_save(t[0], blob);
    REQUIRE(hesse_trainer_state_load(t[1], blob, hesse_trainer_state_bytes(t[0])) == HESSE_OK);
    CHECK(hesse_trainer_steps_done(t[1]) == 4);
    while (hesse_trainer_steps_done(t[0]) < 9) REQUIRE(hesse_trainer_step(t[0], NULL) == HESSE_OK);
    while (hesse_trainer_steps_done(t[1]) < 9) REQUIRE(hesse_trainer_step(t[1], NULL) == HESSE_OK);
    CHECK(hesse_trainer_step(t[1], NULL) == HESSE_EINVAL); /* all done */
    CHECK(memcmp(hesse_model_params(m[0]), hesse_model_params(m[1]),
                 (size_t)hesse_model_num_params(m[0]) * sizeof(double)) == 0);
    hesse_trainer *other = NULL;
    p.batch = 4;
    REQUIRE(hesse_trainer_create(m[1], &s, &p, &other) == HESSE_OK);
    CHECK(hesse_trainer_state_load(other, blob, hesse_trainer_state_bytes(t[0])) == HESSE_EINPUT);
    hesse_trainer_free(other);
    free(blob);
    for (int k = 0; k < 2; k++) {
        hesse_trainer_free(t[k]);
        hesse_model_free(m[k]);
    }
    hesse_samples_free(&s);
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
    hesse_optim_params adamw = hesse_optim_defaults(HESSE_OPTIM_ADAMW);
    check_trajectory(f, "adamw_default", adamw, 0.01, n, T); /* PyTorch's default decay */
    adamw.weight_decay = 0.05;
    check_trajectory(f, "adamw", adamw, 0.01, n, T);
    hesse_optim_kind kind = HESSE_OPTIM_SGD;
    CHECK(hesse_optim_parse("adamw", &kind) == HESSE_OK && kind == HESSE_OPTIM_ADAMW);
    CHECK(strcmp(hesse_optim_name(HESSE_OPTIM_ADAMW), "adamw") == 0);
    CHECK(hesse_optim_parse("lamb", &kind) == HESSE_EINVAL);
    check_warmup_cosine(f);
    check_net(f);
    check_gd(f);
    check_trainer_state();
    snprintf(path, sizeof path, "%s/fixture_gd_expected.safetensors", dir ? dir : "tests/data");
    hesse_st_file *fg = NULL;
    REQUIRE(hesse_st_open(path, &fg) == HESSE_OK);
    check_preconditioner(fg, HESSE_OPTIM_ADAM, 0.001, "adam_denom");
    check_preconditioner(fg, HESSE_OPTIM_ADAMW, 0.05, "adamw_denom");
    hesse_st_close(fg);

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
