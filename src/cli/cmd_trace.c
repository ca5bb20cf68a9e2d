/* hesse trace: the trace of a curvature operator, exactly or by Hutchinson / Hutch++. */
#include "cli/cli.h"

#include <string.h>

int cmd_trace(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    cli_curv_opts co = {"hessian", NULL, 0, 0, "f64"};
    const char *out = NULL, *method = "hutchpp", *probe = "rademacher";
    int threads = 0, quiet = 0, probes = 0;
    uint64_t solver_seed = 0;
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(mo),
        CLI_DATA_OPTIONS(d),
        CLI_CURV_OPTIONS(co),
        {"method", 0, OPT_STRING, &method, "M", "hutchpp (default), hutchinson or exact",
         CLI_NO_RANGE, 0},
        {"probes", 0, OPT_INT, &probes, "P", "products to spend (default 99)", 3, 1e8, 0},
        {"probe", 0, OPT_STRING, &probe, "P", "rademacher (default) or normal", CLI_NO_RANGE, 0},
        {"solver-seed", 0, OPT_U64, &solver_seed, "S", "seed of the probes (default 0)",
         CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &co.block, "K", "vectors per pass over the data (default 16)", 1,
         4096, 0},
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    cli_command_doc doc = {
        "trace", "trace of the Hessian, GGN, residual or empirical Fisher",
        "--model M [--data D] [--samples N] [--method exact|hutchinson|hutchpp] [--probes P] "
        "[-o out.json]",
        "exact: n products with unit vectors (small n). hutchinson: the mean of z^T A z over "
        "Rademacher probes. hutchpp: Hutch++ (Meyer, Musco, Musco, Woodruff 2021), exact on a "
        "low-rank part and Hutchinson on the rest; fewer products for the same error when the "
        "spectrum is dominated by a few outliers. JSON keys: trace, stderr (the standard error "
        "of the stochastic part; 0 for exact), products, seconds."};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(&doc, argc, argv, opts, nopts);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("trace", rc);
    cli_apply_common(threads, quiet);
    if (co.block == 0) co.block = 16;

    cli_curv c = {0};
    cJSON *res = NULL;
    hesse_trace_result tr = {0};
    int exact = strcmp(method, "exact") == 0, hutch = strcmp(method, "hutchinson") == 0;
    int hpp = strcmp(method, "hutchpp") == 0 || strcmp(method, "hutch++") == 0;
    if (!exact && !hutch && !hpp) {
        rc =
            hesse_error(HESSE_EINVAL,
                        "option --method: expected exact, hutchinson or hutchpp, got '%s'", method);
        goto cleanup;
    }
    if (strcmp(probe, "rademacher") != 0 && strcmp(probe, "normal") != 0) {
        rc = hesse_error(HESSE_EINVAL, "option --probe: expected rademacher or normal, got '%s'",
                         probe);
        goto cleanup;
    }
    static const char *const stochastic_only[] = {"probes", "probe", "solver-seed", NULL};
    if (exact)
        HESSE_CHECK(cli_refuse_given(opts, nopts, stochastic_only,
                                     "applies to --method hutchinson or hutchpp (exact uses n "
                                     "unit vectors)"));
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_curv_open(&mo, &d, &co, &c));
    res = hesse_result_new("trace", argc, argv);
    cli_curv_describe(res, &c, mo.model);
    HESSE_CHECK(cli_curv_loss(&c, res));
    hesse_trace_params p = hesse_trace_defaults();
    if (probes) p.samples = probes;
    p.block = co.block;
    p.probe = strcmp(probe, "normal") == 0 ? HESSE_PROBE_NORMAL : HESSE_PROBE_RADEMACHER;
    p.seed = solver_seed;
    cli_note("trace: %s of the %s, %lld parameters, %s", method, hesse_curv_name(c.kind),
             (long long)c.op.n, c.data.description);
    if (exact)
        HESSE_CHECK(hesse_trace_exact(&c.op, &p, &tr));
    else if (hutch)
        HESSE_CHECK(hesse_trace_hutchinson(&c.op, &p, &tr));
    else
        HESSE_CHECK(hesse_trace_hutchpp(&c.op, &p, &tr));
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddStringToObject(solver, "method", exact ? "exact" : hutch ? "hutchinson" : "hutchpp");
    if (!exact) {
        cJSON_AddNumberToObject(solver, "probes", tr.samples);
        cJSON_AddStringToObject(solver, "probe", probe);
        cJSON_AddNumberToObject(solver, "seed", (double)solver_seed);
    }
    cJSON_AddNumberToObject(res, "trace", tr.trace);
    cJSON_AddNumberToObject(res, "stderr", tr.std_error);
    if (hpp) {
        cJSON_AddNumberToObject(res, "lowrank_rank", tr.rank);
        cJSON_AddNumberToObject(res, "lowrank_trace", tr.lowrank_trace);
    }
    cJSON_AddNumberToObject(res, "products", (double)tr.products);
    cJSON_AddNumberToObject(res, "seconds", tr.seconds);
    cJSON_AddNumberToObject(res, "product_seconds", tr.seconds_products);
    HESSE_CHECK(cli_emit(res, out));
    cli_note("trace: %.10g +- %.3g (%lld products, %.2fs)", tr.trace, tr.std_error,
             (long long)tr.products, tr.seconds);
cleanup:
    cJSON_Delete(res);
    cli_curv_close(&c);
    return rc == HESSE_OK ? 0 : cli_fail("trace", rc);
}
