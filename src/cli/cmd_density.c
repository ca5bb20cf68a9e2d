/* hesse density: the spectral density of a curvature operator by stochastic Lanczos
 * quadrature or the kernel polynomial method, optionally with the top outliers deflated. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PREFIX.svg and PREFIX-log.svg from --svg PREFIX[.svg], both listed in files. */
static int write_plots(const char *svg, const hesse_density *dn, const char *what, cJSON *files) {
    char path[CLI_SVG_PATH], title[160];
    hesse_series s = {NULL, dn->grid, dn->density, dn->points, HESSE_PLOT_LINE, NULL, 0};
    hesse_plot p = hesse_plot_defaults();
    p.xlabel = "eigenvalue";
    p.title = title;
    snprintf(title, sizeof title, "Spectral density of the %s", what);
    p.ylabel = "density";
    int rc = cli_svg_name(svg, "", path, sizeof path);
    if (rc == HESSE_OK) rc = hesse_svg_write(&p, &s, 1, path);
    if (rc != HESSE_OK) return rc;
    cJSON_AddItemToArray(files, cJSON_CreateString(path));
    snprintf(title, sizeof title, "Spectral density of the %s (log scale)", what);
    p.ylabel = "log10(density + eps)";
    s.y = dn->log10_density;
    rc = cli_svg_name(svg, "-log", path, sizeof path);
    if (rc == HESSE_OK) rc = hesse_svg_write(&p, &s, 1, path);
    if (rc == HESSE_OK) cJSON_AddItemToArray(files, cJSON_CreateString(path));
    return rc;
}

int cmd_density(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    cli_curv_opts co = {"hessian", NULL, 0, 0, "f64"};
    const char *out = NULL, *method = "slq", *svg = NULL, *probe = "rademacher";
    const char *ckpt = NULL, *resume = NULL;
    double ckpt_every = 300;
    int threads = 0, quiet = 0, probes = 0, steps = 0, points = 0, moments = 0, deflate = 0;
    int no_reorth = 0;
    double sigma = -1, margin = -1, lo = 0, hi = 0, eps = -1;
    uint64_t solver_seed = 0;
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(mo),
        CLI_DATA_OPTIONS(d),
        CLI_CURV_OPTIONS(co),
        {"method", 0, OPT_STRING, &method, "M", "slq (default) or kpm", CLI_NO_RANGE, 0},
        {"probes", 0, OPT_INT, &probes, "P", "random probes (default 10)", 1, 1e6, 0},
        {"steps", 0, OPT_INT, &steps, "S", "SLQ: Lanczos steps per probe (default 80)", 2, 1e6, 0},
        {"moments", 0, OPT_INT, &moments, "M", "KPM: Chebyshev moments (default 256)", 2, 1e7, 0},
        {"no-reorth", 0, OPT_FLAG, &no_reorth, NULL, "SLQ: skip full reorthogonalisation",
         CLI_NO_RANGE, 0},
        {"probe", 0, OPT_STRING, &probe, "P", "SLQ probes: rademacher (default) or normal",
         CLI_NO_RANGE, 0},
        {"sigma", 0, OPT_DOUBLE, &sigma, "F",
         "SLQ: Gaussian width as a fraction of the support (default 0.005)", 1e-9, 1, 0},
        {"margin", 0, OPT_DOUBLE, &margin, "F", "widen the estimated support (default 0.05)", 0, 10,
         0},
        {"lo", 0, OPT_DOUBLE, &lo, "X", "support lower end (with --hi; default estimated)",
         CLI_NO_RANGE, 0},
        {"hi", 0, OPT_DOUBLE, &hi, "X", "support upper end", CLI_NO_RANGE, 0},
        {"points", 0, OPT_INT, &points, "G", "grid points (default 1000)", 2, 1e7, 0},
        {"eps", 0, OPT_DOUBLE, &eps, "E", "added before log10 (default 1e-8)", 0, 1, 0},
        {"deflate", 0, OPT_INT, &deflate, "K",
         "project out the top K eigenvectors first (the bulk alone)", 0, 1e6, 0},
        {"solver-seed", 0, OPT_U64, &solver_seed, "S", "seed of the probes (default 0)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &svg, "FILE", "plot to FILE and FILE-log (.svg)", CLI_NO_RANGE, 0},
        {"checkpoint", 0, OPT_STRING, &ckpt, "FILE",
         "SLQ: save the state here periodically and on SIGINT/SIGTERM", CLI_NO_RANGE, 0},
        {"checkpoint-every", 0, OPT_DOUBLE, &ckpt_every, "SEC",
         "seconds between checkpoints (default 300; 0: every Lanczos step)", 0, 1e9, 0},
        {"resume", 0, OPT_STRING, &resume, "FILE", "SLQ: continue from a checkpoint", CLI_NO_RANGE,
         0},
        {"block", 0, OPT_INT, &co.block, "K", "probes per pass over the data (default 10)", 1, 4096,
         0},
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    cli_command_doc doc = {
        "density", "spectral density by stochastic Lanczos quadrature or KPM",
        "--model M [--data D] [--samples N] [--method slq|kpm] [--probes P] [--steps S] "
        "[--deflate K] [-o out.json]",
        "The density is on an equally spaced grid over the support (estimated by a short "
        "Lanczos run and widened by --margin), normalised to integrate to 1 (trapezoid rule); "
        "log10_density = log10(density + eps) shows bulk and outliers on one plot. SLQ also "
        "returns every probe's Ritz nodes and weights. JSON keys: grid, density, "
        "log10_density, products, seconds."};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(&doc, argc, argv, opts, nopts);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("density", rc);
    cli_apply_common(threads, quiet);
    cli_signals_install(); /* a signal stops SLQ or Lanczos at their next boundary */
    const int is_slq = strcmp(method, "slq") == 0;
    if (co.block == 0) co.block = probes > 0 && probes < 10 ? probes : 10;

    cli_curv c = {0};
    hesse_density dn = {0};
    hesse_eigs outliers = {0};
    hesse_op deflated = {0};
    cJSON *res = NULL, *header = NULL;
    unsigned char *ckpt_data = NULL;
    cli_checkpoint_ctx cc = {ckpt, NULL, 0};
    if (!is_slq && strcmp(method, "kpm") != 0) {
        rc = hesse_error(HESSE_EINVAL, "option --method: expected slq or kpm, got '%s'", method);
        goto cleanup;
    }
    if ((ckpt || resume) && !is_slq) {
        rc = hesse_error(HESSE_EINVAL, "options --checkpoint/--resume need --method slq");
        goto cleanup;
    }
    if (strcmp(probe, "rademacher") != 0 && strcmp(probe, "normal") != 0) {
        rc = hesse_error(HESSE_EINVAL, "option --probe: expected rademacher or normal, got '%s'",
                         probe);
        goto cleanup;
    }
    static const char *const slq_only[] = {"steps", "no-reorth", "probe", "sigma", NULL};
    static const char *const kpm_only[] = {"moments", NULL};
    HESSE_CHECK(cli_refuse_given(opts, nopts, is_slq ? kpm_only : slq_only,
                                 is_slq ? "applies to --method kpm" : "applies to --method slq"));
    HESSE_CHECK(cli_checkpoint_options(opts, nopts, ckpt));
    const int lo_seen = cli_find(opts, nopts, "lo")->seen,
              hi_seen = cli_find(opts, nopts, "hi")->seen;
    if (lo_seen != hi_seen) {
        rc = hesse_error(HESSE_EINVAL,
                         "option --%s given without --%s: a support needs both ends (or neither, "
                         "to estimate it)",
                         lo_seen ? "lo" : "hi", lo_seen ? "hi" : "lo");
        goto cleanup;
    }
    static const char *const estimate_only[] = {"margin", NULL};
    if (lo_seen)
        HESSE_CHECK(cli_refuse_given(opts, nopts, estimate_only,
                                     "widens an estimated support; with --lo/--hi the support is "
                                     "given"));
    if (lo_seen && !(lo < hi)) {
        rc = hesse_error(HESSE_EINVAL, "options --lo/--hi: need lo < hi (got %g, %g)", lo, hi);
        goto cleanup;
    }
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_check_svg(svg, (const char *const[]){"", "-log", NULL}));
    HESSE_CHECK(cli_check_checkpoint(ckpt));
    HESSE_CHECK(cli_curv_open(&mo, &d, &co, &c));
    if ((int64_t)deflate >= c.op.n) {
        rc = hesse_error(HESSE_EINVAL,
                         "option --deflate: %d directions of an operator of dimension %lld leave "
                         "no bulk (at most %lld)",
                         deflate, (long long)c.op.n, (long long)c.op.n - 1);
        goto cleanup;
    }
    header = cli_run_header("density", &c);
    cJSON_AddNumberToObject(header, "deflate", deflate);
    cc.header = header;
    res = hesse_result_new("density", argc, argv);
    cli_curv_describe(res, &c, mo.model);
    HESSE_CHECK(cli_curv_loss(&c, res));
    double t0 = hesse_now();
    const hesse_op *op = &c.op;
    int64_t products = 0;
    if (deflate > 0) {
        hesse_lanczos_params lp = hesse_lanczos_defaults();
        lp.top = deflate;
        lp.seed = solver_seed;
        lp.stop = &cli_stop;
        cli_eig_watch watch;
        hesse_op watched = cli_eig_watch_start(&watch, "deflation", &c.op, deflate);
        lp.monitor = cli_eig_monitor;
        lp.monitor_ctx = &watch;
        cli_note("density: finding the top %d eigenvectors to deflate", deflate);
        cli_stoppable(1);
        rc = hesse_lanczos_eigs(&watched, &lp, &outliers);
        cli_stoppable(0);
        if (rc == HESSE_EINTR) rc = cli_stopped(&cc);
        if (rc != HESSE_OK) goto cleanup;
        if (outliers.nconverged < deflate)
            hesse_log(HESSE_LOG_WARN,
                      "deflation: only %d of the top %d eigenvectors reached the tolerance; part "
                      "of the outliers' mass may remain in the density (see deflated_residuals)",
                      outliers.nconverged, deflate);
        HESSE_CHECK(hesse_op_deflate(&c.op, deflate, outliers.vectors, &deflated));
        op = &deflated;
        products += outliers.products;
        hesse_json_add_doubles(res, "deflated", outliers.values, deflate);
        hesse_json_add_doubles(res, "deflated_residuals", outliers.residuals, deflate);
    }
    cli_note("density: %s of the %s, %lld parameters, %s", method, hesse_curv_name(c.kind),
             (long long)op->n, c.data.description);
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddStringToObject(solver, "method", method);
    if (is_slq) {
        hesse_slq_params p = hesse_slq_defaults();
        if (probes) p.probes = probes;
        if (steps) p.steps = steps;
        p.reorth = !no_reorth;
        p.probe = strcmp(probe, "normal") == 0 ? HESSE_PROBE_NORMAL : HESSE_PROBE_RADEMACHER;
        if (sigma > 0) p.sigma = sigma;
        if (margin >= 0) p.margin = margin;
        p.lo = lo;
        p.hi = hi;
        if (points) p.points = points;
        if (eps >= 0) p.eps = eps;
        p.block = co.block;
        p.seed = solver_seed;
        p.stop = &cli_stop;
        cli_checkpoint_attach(&cc, ckpt_every, &p.checkpoint, &p.checkpoint_ctx,
                              &p.checkpoint_interval);
        if (resume) {
            const unsigned char *blob = NULL;
            size_t blob_size = 0;
            HESSE_CHECK(cli_checkpoint_resume(resume, header, &ckpt_data, &blob, &blob_size));
            cli_stoppable(1);
            rc = cli_resume_failed(resume, hesse_slq_resume(op, &p, blob, blob_size, &dn));
        } else {
            cli_stoppable(1);
            rc = hesse_slq_density(op, &p, &dn);
        }
        cli_stoppable(0);
        if (rc == HESSE_EINTR) rc = cli_stopped(&cc);
        if (rc != HESSE_OK) goto cleanup;
        if (resume) cJSON_AddStringToObject(solver, "resumed_from", resume);
        cJSON_AddNumberToObject(solver, "probes", p.probes);
        cJSON_AddNumberToObject(solver, "steps", p.steps);
        cJSON_AddBoolToObject(solver, "reorth", p.reorth);
        cJSON_AddStringToObject(solver, "probe", probe);
        cJSON_AddNumberToObject(solver, "sigma_fraction", p.sigma);
        cJSON_AddNumberToObject(solver, "margin", p.margin);
    } else {
        hesse_kpm_params p = hesse_kpm_defaults();
        if (moments) p.moments = moments;
        if (probes) p.probes = probes;
        if (margin >= 0) p.margin = margin;
        p.lo = lo;
        p.hi = hi;
        if (points) p.points = points;
        if (eps >= 0) p.eps = eps;
        p.block = co.block;
        p.seed = solver_seed;
        HESSE_CHECK(hesse_kpm_density(op, &p, &dn));
        cJSON_AddNumberToObject(solver, "moments", p.moments);
        cJSON_AddNumberToObject(solver, "probes", p.probes);
        cJSON_AddNumberToObject(solver, "margin", p.margin);
        cJSON_AddStringToObject(solver, "kernel", "jackson");
    }
    cJSON_AddNumberToObject(solver, "seed", (double)solver_seed);
    products += dn.products;
    cJSON_AddNumberToObject(res, "lo", dn.lo);
    cJSON_AddNumberToObject(res, "hi", dn.hi);
    cJSON_AddNumberToObject(res, "sigma", dn.sigma);
    cJSON_AddNumberToObject(res, "weight_outside", dn.weight_outside);
    cJSON_AddNumberToObject(res, "eps", dn.eps);
    hesse_json_add_doubles(res, "grid", dn.grid, dn.points);
    hesse_json_add_doubles(res, "density", dn.density, dn.points);
    hesse_json_add_doubles(res, "log10_density", dn.log10_density, dn.points);
    if (dn.nodes) {
        cJSON *q = cJSON_AddArrayToObject(res, "quadrature");
        for (int r = 0; r < dn.probes; r++) {
            cJSON *one = cJSON_CreateObject();
            hesse_json_add_doubles(one, "nodes", dn.nodes + (int64_t)r * dn.steps, dn.nsteps[r]);
            hesse_json_add_doubles(one, "weights", dn.weights + (int64_t)r * dn.steps,
                                   dn.nsteps[r]);
            cJSON_AddItemToArray(q, one);
        }
    }
    if (dn.mu) hesse_json_add_doubles(res, "moments", dn.mu, dn.moments);
    cJSON_AddNumberToObject(res, "products", (double)products);
    cJSON_AddNumberToObject(res, "seconds", hesse_now() - t0);
    cJSON_AddNumberToObject(res, "product_seconds", dn.seconds_products);
    if (svg && cli_root) { /* rank 0 writes */
        cJSON_AddStringToObject(res, "svg", svg);
        HESSE_CHECK(write_plots(svg, &dn, hesse_curv_name(c.kind),
                                cJSON_AddArrayToObject(res, "svg_files")));
    }
    HESSE_CHECK(cli_emit(res, out));
    cli_note("density: support [%.6g, %.6g], %lld products, %.2fs", dn.lo, dn.hi,
             (long long)products, hesse_now() - t0);
cleanup:
    cJSON_Delete(res);
    cJSON_Delete(header);
    free(ckpt_data);
    hesse_density_free(&dn);
    hesse_op_free(&deflated);
    hesse_eigs_free(&outliers);
    cli_curv_close(&c);
    return rc == HESSE_OK ? 0 : cli_fail("density", rc);
}
