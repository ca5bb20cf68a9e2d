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

int cmd_eval(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 0, "first", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    const char *out = NULL;
    int threads = 0, quiet = 0, chunk = 0;
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(mo),
        CLI_DATA_OPTIONS(d),
        {"chunk", 0, OPT_INT, &chunk, "B", "samples per pass (default: from memory)", 1, 1 << 20,
         0},
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    cli_command_doc doc = {"eval", "loss, accuracy and gradient norm of a model on data",
                           "--model M [--arch A] [--data D] [--samples N] [-o out.json]",
                           "The loss is the mean over the samples (PyTorch's reduction='mean'). "
                           "JSON keys: loss, accuracy, grad_norm, n_params, samples, seconds."};
    int rc = cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("eval", rc);
    cli_apply_common(threads, quiet);

    cli_data data = {0};
    hesse_model *m = NULL;
    hesse_engine *e = NULL;
    char *pre = NULL;
    double *grad = NULL;
    cJSON *res = NULL;
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_data_open(&d, &data));
    HESSE_CHECK(cli_load_model(&mo, data.dataset, &m, &pre));
    HESSE_CHECK(cli_data_select(&d, pre, &data));
    hesse_engine_params ep = cli_engine_defaults();
    ep.chunk = chunk;
    HESSE_CHECK(hesse_engine_create(m, &ep, &e));
    HESSE_CHECK(cli_distribute(&data, m, e)); /* this rank's shard */
    const int64_t N = hesse_samples_total(&data.samples);
    const int64_t n = hesse_model_num_params(m);
    grad = hesse_alloc((size_t)n * sizeof *grad);
    if (!grad) {
        rc = hesse_error(HESSE_ENOMEM, "eval: cannot allocate the gradient (%lld doubles)",
                         (long long)n);
        goto cleanup;
    }
    double t0 = hesse_now(), loss;
    int64_t correct;
    HESSE_CHECK(hesse_loss_grad(e, &data.samples, &loss, grad, &correct));
    double seconds = hesse_now() - t0, gn = 0;
    HESSE_CHECK(grad_norm(m, grad, &gn));

    res = hesse_result_new("eval", argc, argv);
    cli_describe_model(res, m, mo.model);
    cli_describe_data(res, &data);
    cli_describe_ranks(res);
    cJSON_AddNumberToObject(res, "samples", (double)N);
    cJSON_AddNumberToObject(res, "loss", loss);
    cJSON_AddNumberToObject(res, "accuracy", (double)correct / (double)N);
    cJSON_AddNumberToObject(res, "correct", (double)correct);
    cJSON_AddNumberToObject(res, "grad_norm", gn);
    cJSON_AddNumberToObject(res, "seconds", seconds);
    HESSE_CHECK(cli_emit(res, out));
    cli_note("eval: %s: loss %.6g, accuracy %.2f%%, |grad| %.4g (%lld samples, %.2fs)",
             data.description, loss, 100.0 * (double)correct / (double)N, gn, (long long)N,
             seconds);
cleanup:
    cJSON_Delete(res);
    hesse_free(grad);
    free(pre);
    hesse_engine_free(e);
    hesse_model_free(m);
    cli_data_free(&data);
    return rc == HESSE_OK ? 0 : cli_fail("eval", rc);
}
