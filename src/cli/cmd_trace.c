/* hesse trace: the trace of a curvature operator, exactly or by Hutchinson / Hutch++. */
#include "cli/cli.h"

#include <string.h>

/* The option values of hesse trace; exact, hutch and hpp say which --method. */
typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    const char *out, *method, *probe;
    int threads, quiet, probes;
    uint64_t solver_seed;
    int exact, hutch, hpp;
} trace_args;

/* --method and --probe, and the stochastic options refused beside --method exact. */
static int parse_method(trace_args *a, const cli_opt *opts, int nopts) {
    const char *method = a->method, *probe = a->probe;
    a->exact = strcmp(method, "exact") == 0;
    a->hutch = strcmp(method, "hutchinson") == 0;
    a->hpp = strcmp(method, "hutchpp") == 0 || strcmp(method, "hutch++") == 0;
    if (!a->exact && !a->hutch && !a->hpp)
        return hesse_error(HESSE_EINVAL,
                           "option --method: expected exact, hutchinson or hutchpp, got '%s'",
                           method);
    if (strcmp(probe, "rademacher") != 0 && strcmp(probe, "normal") != 0)
        return hesse_error(HESSE_EINVAL, "option --probe: expected rademacher or normal, got '%s'",
                           probe);
    static const char *const stochastic_only[] = {"probes", "probe", "solver-seed", NULL};
    if (!a->exact) return HESSE_OK;
    return cli_refuse_given(
        opts, nopts, stochastic_only,
        "applies to --method hutchinson or hutchpp (exact uses n unit vectors)");
}

static int parse_trace(trace_args *a, int argc, char **argv) {
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        CLI_CURV_OPTIONS(a->co),
        {"method", 0, OPT_STRING, &a->method, "M", "hutchpp (default), hutchinson or exact",
         CLI_NO_RANGE, 0},
        {"probes", 0, OPT_INT, &a->probes, "P", "products to spend (default 99)", 3, 1e8, 0},
        {"probe", 0, OPT_STRING, &a->probe, "P", "rademacher (default) or normal", CLI_NO_RANGE, 0},
        {"solver-seed", 0, OPT_U64, &a->solver_seed, "S", "seed of the probes (default 0)",
         CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &a->co.block, "K", "vectors per pass over the data (default 16)", 1,
         4096, 0},
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    cli_command_doc doc = {
        "trace", "trace of the Hessian, GGN, residual or empirical Fisher",
        "--model M [--data D] [--samples N] [--method exact|hutchinson|hutchpp] [--probes P] "
        "[-o out.json]",
        "exact: n products with unit vectors (small n). hutchinson: the mean of z^T A z over "
        "Rademacher probes. hutchpp: Hutch++ (Meyer, Musco, Musco, Woodruff 2021), exact on a "
        "low-rank part and Hutchinson on the rest; fewer products for the same error when the "
        "spectrum is dominated by a few outliers. JSON keys: trace, stderr (the standard error "
        "of the stochastic part over its g samples: s/sqrt(g) x sqrt((g-1)/(g-3)), the sd of "
        "the Student t that (trace - exact)/stderr follows, so its z-scores have unit "
        "variance; 0 for exact), products, seconds."};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(&doc, argc, argv, opts, nopts);
    return rc == HESSE_OK ? parse_method(a, opts, nopts) : rc;
}

/* The trace by the chosen method. */
static int run(const trace_args *a, cli_curv *c, hesse_trace_result *tr) {
    hesse_trace_params p = hesse_trace_defaults();
    if (a->probes) p.samples = a->probes;
    p.block = a->co.block;
    p.probe = strcmp(a->probe, "normal") == 0 ? HESSE_PROBE_NORMAL : HESSE_PROBE_RADEMACHER;
    p.seed = a->solver_seed;
    cli_note("trace: %s of the %s, %lld parameters, %s", a->method, hesse_curv_name(c->kind),
             (long long)c->op.n, c->data.description);
    if (a->exact) return hesse_trace_exact(&c->op, &p, tr);
    if (a->hutch) return hesse_trace_hutchinson(&c->op, &p, tr);
    return hesse_trace_hutchpp(&c->op, &p, tr);
}

/* The solver, the trace, its standard error, Hutch++'s low-rank part and the costs. */
static void describe(const trace_args *a, const hesse_trace_result *tr, cJSON *res) {
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddStringToObject(solver, "method",
                            a->exact   ? "exact"
                            : a->hutch ? "hutchinson"
                                       : "hutchpp");
    if (!a->exact) {
        cJSON_AddNumberToObject(solver, "probes", tr->samples);
        cJSON_AddStringToObject(solver, "probe", a->probe);
        cJSON_AddNumberToObject(solver, "seed", (double)a->solver_seed);
    }
    cJSON_AddNumberToObject(res, "trace", tr->trace);
    cJSON_AddNumberToObject(res, "stderr", tr->std_error);
    if (a->hpp) {
        cJSON_AddNumberToObject(res, "lowrank_rank", tr->rank);
        cJSON_AddNumberToObject(res, "lowrank_trace", tr->lowrank_trace);
    }
    cJSON_AddNumberToObject(res, "products", (double)tr->products);
    cJSON_AddNumberToObject(res, "seconds", tr->seconds);
    cJSON_AddNumberToObject(res, "product_seconds", tr->seconds_products);
}

int cmd_trace(int argc, char **argv) {
    trace_args a = {.d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL, 0, 0},
                    .co = {"hessian", NULL, 0, 0, "f64"},
                    .method = "hutchpp",
                    .probe = "rademacher"};
    int rc = parse_trace(&a, argc, argv);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("trace", rc);
    cli_apply_common(a.threads, a.quiet);
    if (a.co.block == 0) a.co.block = 16;

    cli_curv c = {0};
    cJSON *res = NULL;
    hesse_trace_result tr = {0};
    HESSE_CHECK(cli_check_output(a.out, "option --output"));
    HESSE_CHECK(cli_curv_open(&a.mo, &a.d, &a.co, &c));
    res = hesse_result_new("trace", argc, argv);
    cli_curv_describe(res, &c, a.mo.model);
    HESSE_CHECK(cli_curv_loss(&c, res));
    HESSE_CHECK(run(&a, &c, &tr));
    describe(&a, &tr, res);
    HESSE_CHECK(cli_emit(res, a.out));
    cli_note("trace: %.10g +- %.3g (%lld products, %.2fs)", tr.trace, tr.std_error,
             (long long)tr.products, tr.seconds);
cleanup:
    cJSON_Delete(res);
    cli_curv_close(&c);
    return rc == HESSE_OK ? 0 : cli_fail("trace", rc);
}
