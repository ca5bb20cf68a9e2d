/* hesse eval: loss, accuracy and gradient norm of a model on data. */
#include "cli/cli.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* |g|, scaled against overflow when the plain sum of squares overflows (the same bits
 * otherwise); HESSE_ENUMERIC naming the tensor of a non-finite entry, or when even the norm
 * does not fit in a double. */
static int grad_norm(const hesse_model *m, const double *g, double *out) {
    const int64_t n = hesse_model_num_params(m);
    double ss = 0, big = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            const hesse_tensor_info *t = NULL;
            for (int k = 0; k < hesse_model_num_tensors(m); k++) {
                const hesse_tensor_info *c = hesse_model_tensor(m, k);
                if (i >= c->offset && i < c->offset + c->count) t = c;
            }
            return hesse_error(HESSE_ENUMERIC,
                               "the gradient is not finite (%g in tensor '%s' at flat index %lld): "
                               "the inputs or weights are too large for double precision",
                               g[i], t ? t->name : "?", (long long)(t ? i - t->offset : i));
        }
        ss += g[i] * g[i];
        if (fabs(g[i]) > big) big = fabs(g[i]);
    }
    if (isfinite(ss)) {
        *out = sqrt(ss);
        return HESSE_OK;
    }
    ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (g[i] / big) * (g[i] / big);
    *out = big * sqrt(ss);
    if (!isfinite(*out))
        return hesse_error(HESSE_ENUMERIC, "the gradient's norm exceeds the largest double (%g)",
                           DBL_MAX);
    return HESSE_OK;
}

/* The option values of hesse eval. */
typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    const char *out;
    int threads, quiet, chunk;
} eval_args;

/* What a run holds, and what it measured. */
typedef struct {
    cli_data data;
    hesse_model *m;
    hesse_engine *e;
    char *pre;
    double *grad;
    int64_t N, correct; /* samples (over every rank), correctly classified */
    double loss, seconds, gn;
} eval_run;

static int parse_eval(eval_args *a, int argc, char **argv) {
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        CLI_CHUNK_OPTION(a->chunk),
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    cli_command_doc doc = {"eval", "loss, accuracy and gradient norm of a model on data",
                           "--model M [--arch A] [--data D] [--samples N] [-o out.json]",
                           "The loss is the mean over the samples (PyTorch's reduction='mean'). "
                           "JSON keys: loss, accuracy, grad_norm, n_params, samples, seconds."};
    return cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
}

/* The data, the model, the samples with its preprocessing, and the engine over this rank's
 * shard. */
static int open_run(const eval_args *a, eval_run *r) {
    int rc;
    HESSE_CHECK(cli_data_open(&a->d, &r->data));
    HESSE_CHECK(cli_load_model(&a->mo, r->data.dataset, &r->m, &r->pre));
    HESSE_CHECK(cli_data_select(&a->d, r->pre, &r->data));
    hesse_engine_params ep = cli_engine_defaults();
    ep.chunk = a->chunk;
    HESSE_CHECK(hesse_engine_create(r->m, &ep, &r->e));
    HESSE_CHECK(cli_distribute(&r->data, r->m, r->e)); /* this rank's shard */
cleanup:
    return rc;
}

/* Loss, accuracy and the gradient's norm (timed: the pass alone). */
static int run(eval_run *r) {
    r->N = hesse_samples_total(&r->data.samples);
    const int64_t n = hesse_model_num_params(r->m);
    r->grad = hesse_alloc((size_t)n * sizeof *r->grad);
    if (!r->grad)
        return hesse_error(HESSE_ENOMEM, "eval: cannot allocate the gradient (%lld doubles)",
                           (long long)n);
    double t0 = hesse_now();
    int rc = hesse_loss_grad(r->e, &r->data.samples, &r->loss, r->grad, &r->correct);
    if (rc != HESSE_OK) return rc;
    r->seconds = hesse_now() - t0;
    return grad_norm(r->m, r->grad, &r->gn);
}

static int emit(const eval_args *a, const eval_run *r, int argc, char **argv) {
    const double N = (double)r->N, NP = N * hesse_samples_targets(&r->data.samples);
    cJSON *res = hesse_result_new("eval", argc, argv);
    cli_describe_model(res, r->m, a->mo.model);
    cli_describe_data(res, &r->data);
    cli_describe_ranks(res);
    cJSON_AddNumberToObject(res, "samples", N);
    cJSON_AddNumberToObject(res, "loss", r->loss);
    cJSON_AddNumberToObject(res, "accuracy", (double)r->correct / NP); /* per position */
    cJSON_AddNumberToObject(res, "correct", (double)r->correct);
    cJSON_AddNumberToObject(res, "grad_norm", r->gn);
    cJSON_AddNumberToObject(res, "seconds", r->seconds);
    int rc = cli_emit(res, a->out);
    if (rc == HESSE_OK)
        cli_note("eval: %s: loss %.6g, accuracy %.2f%%, |grad| %.4g (%lld samples, %.2fs)",
                 r->data.description, r->loss, 100.0 * (double)r->correct / NP, r->gn,
                 (long long)r->N, r->seconds);
    cJSON_Delete(res);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    eval_args a = {.d = {"fashion-mnist", "train", 0, "first", 0, NULL, NULL, 0, 0}};
    int rc = parse_eval(&a, argc, argv);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("eval", rc);
    cli_apply_common(a.threads, a.quiet);

    eval_run r = {0};
    HESSE_CHECK(cli_check_output(a.out, "option --output"));
    HESSE_CHECK(open_run(&a, &r));
    HESSE_CHECK(run(&r));
    HESSE_CHECK(emit(&a, &r, argc, argv));
cleanup:
    hesse_free(r.grad);
    free(r.pre);
    hesse_engine_free(r.e);
    hesse_model_free(r.m);
    cli_data_free(&r.data);
    return rc == HESSE_OK ? 0 : cli_fail("eval", rc);
}
