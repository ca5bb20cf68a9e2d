/* The result schemas: every key each command writes, as data (hesse/schema.h), and the check
 * that a document holds what its schema says and nothing else.
 *
 * The rows say what src/cli/ writes today. Labels are what the HTML report shows beside a
 * value; the report's tables list paths of these rows. A new key in a document needs its row
 * here (the check refuses an undeclared key, and tests/cli/schema.sh checks documents of
 * every command). */
#include <hesse/core.h>
#include <hesse/schema.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ(path, label, unit, kind)                                                               \
    { path, label, unit, HESSE_KEY_##kind, 1 }
#define OPT(path, label, unit, kind)                                                               \
    { path, label, unit, HESSE_KEY_##kind, 0 }
#define END                                                                                        \
    { NULL, NULL, NULL, HESSE_KEY_NUMBER, 0 }

/* ---- Parts the commands share ------------------------------------------------------------ */

/* hesse_result_new */
static const hesse_key envelope[] = {
    REQ("schema", "schema", "", STRING),
    REQ("hesse_version", "hesse version", "", STRING),
    REQ("command_line", "command line", "", ARRAY),
    REQ("created", "created", "", STRING),
    REQ("blas", "BLAS", "", OBJECT),
    REQ("blas.library", "BLAS library", "", STRING),
    REQ("blas.core", "BLAS core", "", STRING),
    REQ("blas.core_source", "BLAS core chosen by", "", STRING),
    REQ("blas.threads", "BLAS threads", "", INT),
    REQ("blas.cpu_model", "CPU", "", STRING),
    REQ("blas.cpu_features", "CPU features", "", STRING),
    REQ("blas.cpus", "CPUs", "", INT),
    END,
};

/* cli_describe_model */
static const hesse_key model[] = {
    REQ("model", "model", "", OBJECT),
    OPT("model.path", "model file", "", STRING),
    REQ("model.arch", "architecture", "", STRING),
    REQ("model.loss", "loss function", "", STRING),
    REQ("model.sha256", "model sha256", "", STRING),
    REQ("model.input_shape", "input shape", "", ARRAY),
    REQ("n_params", "parameters", "", INT),
    END,
};

/* cli_describe_data */
static const hesse_key data[] = {
    REQ("data", "data set", "", OBJECT),
    REQ("data.dataset", "dataset", "", STRING),
    REQ("data.select", "selection", "", STRING),
    REQ("data.samples", "samples", "", INT),
    REQ("data.seed", "selection seed", "", INT),
    REQ("data.description", "data", "", STRING),
    REQ("data.preprocess", "preprocessing", "", OBJECT),
    REQ("data.preprocess.scale", "input scale", "", NUMBER),
    OPT("data.preprocess.mean", "channel means", "", ARRAY),
    OPT("data.preprocess.std", "channel standard deviations", "", ARRAY),
    OPT("data.label_noise", "label noise", "", OBJECT),
    REQ("data.label_noise.fraction", "label noise fraction", "", NUMBER),
    REQ("data.label_noise.changed", "labels replaced", "", INT),
    REQ("data.label_noise.seed", "label noise seed", "", INT),
    REQ("data.label_noise.rule", "label noise rule", "", STRING),
    OPT("data.targets", "labels per sample (sequence positions)", "", INT),
    END,
};

/* cli_describe_ranks: present in a distributed run */
static const hesse_key ranks[] = {
    OPT("distributed", "distributed run", "", OBJECT),
    REQ("distributed.backend", "distribution backend", "", STRING),
    REQ("distributed.library", "MPI library", "", STRING),
    REQ("distributed.ranks", "ranks", "", INT),
    OPT("distributed.ranks_per_node", "ranks per node", "", INT), /* not in hesse info */
    END,
};

static const hesse_key oper[] = {
    REQ("operator", "operator", "", STRING),
    END,
};

/* cli_curv_describe, after the model, data and operator */
static const hesse_key engine[] = {
    REQ("precision", "precision", "", STRING),
    REQ("engine_threads", "engine threads", "", INT),
    REQ("engine_chunk", "samples per pass", "", INT),
    REQ("dimension", "dimension", "", INT),
    REQ("tensors", "tensors", "", ARRAY),
    OPT("layer", "layer", "", STRING),
    END,
};

/* loss and accuracy over the samples used (cli_curv_loss) */
static const hesse_key fit[] = {
    REQ("loss", "loss", "", NUMBER),
    REQ("accuracy", "accuracy", "", NUMBER),
    END,
};

/* What cli_curv_describe writes, then cli_curv_loss (hesse samples has a loss per run). */
#define DESCRIBED                                                                                  \
    {envelope, 0}, {model, 0}, {data, 0}, {ranks, 0}, {oper, 0}, {                                 \
        engine, 0                                                                                  \
    }
#define SHARED                                                                                     \
    DESCRIBED, {                                                                                   \
        fit, 0                                                                                     \
    }

/* ---- Commands ------------------------------------------------------------------------------ */

static const hesse_key eval_keys[] = {
    REQ("samples", "samples", "", INT),
    REQ("correct", "correct", "", INT),
    REQ("grad_norm", "gradient norm", "", NUMBER),
    REQ("seconds", "seconds", "s", NUMBER),
    END,
};

static const hesse_key train_keys[] = {
    REQ("history", "history", "", ARRAY),
    REQ("history[].epoch", "epoch", "", INT),
    REQ("history[].lr", "learning rate", "", NUMBER),
    OPT("history[].lr_end", "learning rate of the last step", "", NUMBER), /* warmup-cosine */
    REQ("history[].train_loss", "training loss", "", NUMBER),
    REQ("history[].train_accuracy", "training accuracy", "", NUMBER),
    OPT("history[].test_loss", "test loss", "", NUMBER), /* not with --no-test */
    OPT("history[].test_accuracy", "test accuracy", "", NUMBER),
    REQ("history[].seconds", "seconds", "s", NUMBER),
    /* --track (issue 20): settings, thresholds, the time split, then one row per measurement */
    OPT("tracking", "tracking", "", OBJECT),
    REQ("tracking.spec", "tracking specification", "", STRING),
    REQ("tracking.every", "measured every", "steps", INT),
    REQ("tracking.top", "top eigenvalues tracked", "", INT),
    REQ("tracking.bottom", "bottom eigenvalues tracked", "", INT),
    REQ("tracking.samples", "measurement samples", "", INT),
    REQ("tracking.tol", "Lanczos tolerance", "", NUMBER),
    REQ("tracking.trace", "trace tracked", "", BOOL),
    REQ("tracking.powerlaw", "power-law eigenvalues", "", INT),
    REQ("tracking.preconditioned", "preconditioned sharpness tracked", "", BOOL),
    REQ("tracking.cold", "cold starts measured", "", BOOL),
    REQ("tracking.optimizer", "optimizer", "", STRING),
    REQ("tracking.lr", "step size η", "", NUMBER),
    OPT("tracking.beta1", "Adam β₁", "", NUMBER), /* adam/adamw */
    REQ("tracking.threshold", "2/η", "", NUMBER),
    OPT("tracking.threshold_preconditioned", "(2+2β₁)/((1−β₁)η)", "", NUMBER),
    REQ("tracking.seconds_training", "seconds training", "s", NUMBER),
    REQ("tracking.seconds_measuring", "seconds measuring", "s", NUMBER),
    REQ("tracking.products", "products (warm starts)", "", INT),
    OPT("tracking.products_cold", "products (cold starts)", "", INT), /* cold */
    REQ("tracking.series", "measurements", "", ARRAY),
    REQ("tracking.series[].step", "step", "", INT),
    REQ("tracking.series[].epoch", "epoch", "", NUMBER),
    REQ("tracking.series[].loss", "loss (measurement subset)", "", NUMBER),
    REQ("tracking.series[].accuracy", "accuracy (measurement subset)", "", NUMBER),
    REQ("tracking.series[].lr", "step size", "", NUMBER),
    REQ("tracking.series[].top", "top eigenvalues", "", ARRAY),
    REQ("tracking.series[].top_residuals", "top residuals", "", ARRAY),
    OPT("tracking.series[].bottom", "bottom eigenvalues", "", ARRAY), /* bottom > 0 */
    OPT("tracking.series[].bottom_residuals", "bottom residuals", "", ARRAY),
    REQ("tracking.series[].products", "products", "", INT),
    REQ("tracking.series[].seconds", "seconds", "s", NUMBER),
    OPT("tracking.series[].products_cold", "products (cold start)", "", INT), /* cold */
    OPT("tracking.series[].seconds_cold", "seconds (cold start)", "s", NUMBER),
    OPT("tracking.series[].trace", "trace", "", NUMBER), /* trace */
    OPT("tracking.series[].trace_se", "trace standard error", "", NUMBER),
    OPT("tracking.series[].trace_products", "trace products", "", INT),
    OPT("tracking.series[].powerlaw_s", "power-law ŝ", "", NUMBER), /* powerlaw */
    OPT("tracking.series[].powerlaw_d_ks", "power-law d_KS", "", NUMBER),
    OPT("tracking.series[].powerlaw_d_c", "power-law d_c", "", NUMBER),
    OPT("tracking.series[].powerlaw_K", "power-law K", "", INT),
    OPT("tracking.series[].preconditioned", "top eigenvalues of P⁻¹H", "", ARRAY),
    OPT("tracking.series[].preconditioned_residuals", "residuals of P⁻¹H", "", ARRAY),
    OPT("tracking.series[].preconditioned_products", "products for P⁻¹H", "", INT),
    END,
};

static const hesse_key dense_keys[] = {
    REQ("samples", "samples", "", INT),
    REQ("trace", "trace", "", NUMBER),
    REQ("frobenius", "Frobenius norm", "", NUMBER),
    REQ("max", "largest", "", NUMBER),
    REQ("min", "smallest", "", NUMBER),
    REQ("negative_count", "negative eigenvalues", "", INT),
    REQ("negative_threshold", "negative below", "", NUMBER),
    REQ("asymmetry", "asymmetry", "", NUMBER),
    REQ("products", "products", "", INT),
    REQ("product_seconds", "seconds in products", "s", NUMBER),
    REQ("eigensolver_seconds", "seconds in dsyevd", "s", NUMBER),
    REQ("seconds", "seconds", "s", NUMBER),
    REQ("eigenvalues", "eigenvalues (ascending)", "", ARRAY),
    END,
};

static const hesse_key spectrum_keys[] = {
    REQ("solver", "solver", "", OBJECT),
    REQ("solver.method", "method", "", STRING),
    OPT("solver.tol", "tolerance", "", NUMBER),
    OPT("solver.basis", "basis", "", INT),
    OPT("solver.seed", "seed", "", INT),
    OPT("solver.verify", "verified", "", BOOL),
    OPT("solver.restarts", "restarts", "", INT),
    OPT("solver.breakdowns", "breakdowns", "", INT),
    OPT("solver.fresh_starts", "fresh starts", "", INT),
    OPT("solver.resumed_from", "resumed from", "", STRING),
    OPT("solver.max_iter", "iteration limit", "", INT),
    REQ("solver.iterations", "iterations", "", INT),
    REQ("converged", "converged", "", INT),
    REQ("anorm", "||A|| estimate", "", NUMBER),
    REQ("residuals_explicit", "explicit residuals", "", BOOL),
    OPT("orthogonality", "orthogonality", "", NUMBER), /* Lanczos */
    REQ("top", "top eigenvalues (descending)", "", ARRAY),
    REQ("bottom", "bottom eigenvalues (ascending)", "", ARRAY),
    REQ("residuals_top", "residuals of the top", "", ARRAY),
    REQ("residuals_bottom", "residuals of the bottom", "", ARRAY),
    REQ("products", "products", "", INT),
    REQ("seconds", "seconds", "s", NUMBER),
    REQ("seconds_split", "seconds by part", "", OBJECT),
    REQ("seconds_split.products", "seconds in products", "s", NUMBER),
    REQ("seconds_split.orthogonalisation", "seconds orthogonalising", "s", NUMBER),
    REQ("seconds_split.restart", "seconds restarting", "s", NUMBER),
    REQ("seconds_split.checkpoint", "seconds checkpointing", "s", NUMBER),
    REQ("peak_rss_bytes", "peak memory (bytes)", "bytes", INT),
    OPT("vectors", "eigenvectors", "", STRING),
    OPT("svg", "plot", "", STRING),
    END,
};

static const hesse_key density_keys[] = {
    OPT("deflated", "deflated outliers", "", ARRAY), /* --deflate K */
    OPT("deflated_residuals", "residuals of the deflated", "", ARRAY),
    REQ("solver", "solver", "", OBJECT),
    REQ("solver.method", "method", "", STRING),
    OPT("solver.resumed_from", "resumed from", "", STRING),
    OPT("solver.probes", "probes", "", INT),               /* SLQ, KPM */
    OPT("solver.source", "point masses from", "", STRING), /* exact */
    OPT("backward_passes", "backward passes (class means)", "", INT),
    OPT("solver.steps", "Lanczos steps", "", INT), /* SLQ */
    OPT("solver.reorth", "reorthogonalised", "", BOOL),
    OPT("solver.probe", "probe", "", STRING),
    OPT("solver.sigma_fraction", "width as a fraction of the support", "", NUMBER),
    REQ("solver.margin", "support margin", "", NUMBER),
    OPT("solver.moments", "moments", "", INT), /* KPM */
    OPT("solver.kernel", "kernel", "", STRING),
    REQ("solver.seed", "seed", "", INT),
    REQ("lo", "support from", "", NUMBER),
    REQ("hi", "support to", "", NUMBER),
    REQ("sigma", "Gaussian width", "", NUMBER),
    REQ("weight_outside", "weight outside the grid", "", NUMBER),
    REQ("eps", "log floor", "", NUMBER),
    REQ("grid", "grid", "", ARRAY),
    REQ("density", "density", "", ARRAY),
    REQ("log10_density", "log10 density", "", ARRAY),
    OPT("quadrature", "quadrature", "", ARRAY), /* SLQ */
    REQ("quadrature[].nodes", "nodes", "", ARRAY),
    REQ("quadrature[].weights", "weights", "", ARRAY),
    OPT("moments", "Chebyshev moments", "", ARRAY),            /* KPM */
    OPT("mp", "Marchenko-Pastur fit of the bulk", "", OBJECT), /* --mp */
    REQ("mp.method", "fit", "", STRING),
    REQ("mp.fitted", "fitted", "", BOOL),
    REQ("mp.m1", "first moment", "", NUMBER),
    REQ("mp.m2", "second moment", "", NUMBER),
    OPT("mp.gamma", "ratio gamma", "", NUMBER),
    OPT("mp.sigma2", "scale sigma^2", "", NUMBER),
    OPT("mp.lambda_minus", "lower edge", "", NUMBER),
    OPT("mp.lambda_plus", "upper edge", "", NUMBER),
    OPT("mp.zero_mass", "atom at zero", "", NUMBER),
    OPT("mp.ks", "KS distance", "", NUMBER),
    OPT("mp.w1", "W1 distance", "", NUMBER),
    OPT("mp.w1_relative", "W1 / sigma^2", "", NUMBER),
    OPT("mp.tail_mass", "mass above the upper edge", "", NUMBER),
    OPT("mp.moments", "moment fit", "", OBJECT),
    REQ("mp.moments.gamma", "ratio gamma", "", NUMBER),
    REQ("mp.moments.sigma2", "scale sigma^2", "", NUMBER),
    REQ("mp.moments.lambda_minus", "lower edge", "", NUMBER),
    REQ("mp.moments.lambda_plus", "upper edge", "", NUMBER),
    REQ("mp.moments.zero_mass", "atom at zero", "", NUMBER),
    REQ("mp.moments.ks", "KS distance", "", NUMBER),
    REQ("mp.moments.w1", "W1 distance", "", NUMBER),
    REQ("mp.moments.w1_relative", "W1 / sigma^2", "", NUMBER),
    REQ("mp.moments.tail_mass", "mass above the upper edge", "", NUMBER),
    OPT("mp.curve", "fitted density on the grid", "", ARRAY),
    OPT("mp.log10_curve", "its log10", "", ARRAY),
    REQ("products", "products", "", INT),
    REQ("seconds", "seconds", "s", NUMBER),
    REQ("product_seconds", "seconds in products", "s", NUMBER),
    OPT("svg", "plot", "", STRING),
    OPT("svg_files", "plots written", "", ARRAY),
    END,
};

static const hesse_key trace_keys[] = {
    REQ("solver", "solver", "", OBJECT),
    REQ("solver.method", "method", "", STRING),
    OPT("solver.probes", "probes", "", INT), /* stochastic methods */
    OPT("solver.probe", "probe", "", STRING),
    OPT("solver.seed", "seed", "", INT),
    REQ("trace", "trace", "", NUMBER),
    REQ("stderr", "standard error", "", NUMBER),
    OPT("lowrank_rank", "low-rank part: rank", "", INT), /* Hutch++ */
    OPT("lowrank_trace", "low-rank part: trace", "", NUMBER),
    REQ("products", "products", "", INT),
    REQ("seconds", "seconds", "s", NUMBER),
    REQ("product_seconds", "seconds in products", "s", NUMBER),
    END,
};

static const hesse_key bench_keys[] = {
    REQ("precision", "precision", "", STRING),
    REQ("repeat", "timed runs", "", INT),
    REQ("hvp_flops_formula", "HVP flop count", "", STRING),
    OPT("dgemm", "reference DGEMM", "", OBJECT), /* --dgemm 0 leaves it out */
    REQ("dgemm.n", "DGEMM size", "", INT),
    REQ("dgemm.threads", "DGEMM threads", "", INT),
    REQ("dgemm.ms", "DGEMM time", "ms", NUMBER),
    REQ("dgemm.gflops", "DGEMM rate", "GFLOP/s", NUMBER),
    REQ("dgemm.ms_one_thread", "DGEMM time, one thread", "ms", NUMBER),
    REQ("dgemm.gflops_one_thread", "DGEMM rate, one thread", "GFLOP/s", NUMBER),
    REQ("cases", "cases", "", ARRAY),
    REQ("cases[].case", "case", "", STRING),
    REQ("cases[].arch", "architecture", "", STRING),
    REQ("cases[].n_params", "parameters", "", INT),
    REQ("cases[].batch", "batch", "", INT),
    OPT("cases[].data", "data of the batch", "", STRING),
    REQ("cases[].grad_ms_runs", "gradient times", "ms", ARRAY),
    REQ("cases[].hvp_ms_runs", "HVP times", "ms", ARRAY),
    REQ("cases[].hvp_cached_ms_runs", "cached HVP times", "ms", ARRAY),
    REQ("cases[].grad_ms", "grad (ms)", "ms", NUMBER),
    REQ("cases[].hvp_ms", "HVP (ms)", "ms", NUMBER),
    REQ("cases[].hvp_cached_ms", "cached HVP (ms)", "ms", NUMBER),
    REQ("cases[].hvp_flops", "HVP flops", "", NUMBER),
    REQ("cases[].hvp_gflops", "HVP rate", "GFLOP/s", NUMBER),
    REQ("cases[].threads", "threads", "", INT),
    REQ("cases[].chunk", "samples per pass", "", INT),
    REQ("cases[].cache_bytes", "cache", "bytes", INT),
    REQ("cases[].hvp_f32_ms", "HVP in f32 (ms)", "ms", NUMBER),
    REQ("cases[].f32_speedup", "f32 speed-up", "", NUMBER),
    OPT("cases[].block", "block", "", INT), /* --block K */
    OPT("cases[].block_per_pass", "block per pass", "", INT),
    OPT("cases[].hvp_block_ms", "block of HVPs (ms)", "ms", NUMBER),
    OPT("cases[].block_cost_in_hvps", "block cost in HVPs", "", NUMBER),
    OPT("cases[].hvp_block_f32_ms", "block of HVPs in f32 (ms)", "ms", NUMBER),
    OPT("cases[].block_f32_cost_in_hvps", "f32 block cost in HVPs", "", NUMBER),
    END,
};

/* With --model (Lanczos first); from an eigenvalue file only the fit. */
static const hesse_key powerlaw_keys[] = {
    OPT("solver", "solver", "", OBJECT),
    REQ("solver.method", "method", "", STRING),
    REQ("solver.tol", "tolerance", "", NUMBER),
    REQ("solver.basis", "basis", "", INT),
    REQ("solver.seed", "seed", "", INT),
    REQ("solver.verify", "verified", "", BOOL),
    REQ("solver.restarts", "restarts", "", INT),
    OPT("solver.breakdowns", "breakdowns", "", INT),
    OPT("solver.fresh_starts", "fresh starts", "", INT),
    REQ("solver.iterations", "iterations", "", INT),
    OPT("solver.resumed_from", "resumed from", "", STRING),
    OPT("converged", "converged", "", INT),
    OPT("anorm", "||A|| estimate", "", NUMBER),
    OPT("residuals_explicit", "explicit residuals", "", BOOL),
    OPT("orthogonality", "orthogonality", "", NUMBER),
    OPT("products", "products", "", INT),
    OPT("seconds", "seconds", "s", NUMBER),
    REQ("K", "K (fitted)", "", INT),
    REQ("K_requested", "K requested", "", INT),
    OPT("K_cap", "K cap", "", INT),
    REQ("eigenvalues", "eigenvalues fitted (descending)", "", ARRAY),
    OPT("residuals", "residuals", "", ARRAY),
    OPT("tol_guard", "tolerance guard", "", OBJECT), /* --model */
    REQ("tol_guard.tol_requested", "tolerance requested", "", NUMBER),
    REQ("tol_guard.tol_used", "tolerance used", "", NUMBER),
    REQ("tol_guard.limit", "limit on tol ||A|| / λ_K", "", NUMBER),
    REQ("tol_guard.accuracy", "tol ||A|| / λ_K", "", NUMBER),
    REQ("tol_guard.tightened", "solved again", "", INT),
    OPT("tol_guard.reason", "why", "", STRING),
    OPT("s_sensitivity", "s sensitivity to the residuals", "", NUMBER),
    REQ("fit", "fit", "", OBJECT),
    REQ("fit.s_ls", "s", "", NUMBER),
    REQ("fit.intercept_ls", "intercept (ln)", "", NUMBER),
    REQ("fit.r2_ls", "R²", "", NUMBER),
    REQ("fit.beta", "β", "", NUMBER),
    REQ("fit.beta_stderr", "β standard error", "", NUMBER),
    REQ("fit.s_mle", "s = 1/(β−1)", "", NUMBER),
    REQ("fit.d_ks", "d_KS", "", NUMBER),
    REQ("fit.d_c", "d_c = 1.36/√K", "", NUMBER),
    REQ("fit.accepted", "accepted", "", BOOL),
    REQ("fit.lambda_min", "λ_K (cut-off)", "", NUMBER),
    REQ("fit.lambda_max", "λ_1 (largest)", "", NUMBER),
    REQ("fit.dropped", "dropped (non-positive)", "", INT),
    REQ("source", "source", "", STRING),
    OPT("svg", "plot", "", STRING),
    END,
};

/* A Lanczos spectrum in hesse classes' "spectra". */
#define CLASS_SPECTRUM(p, name)                                                                    \
    REQ(p, name, "", OBJECT), REQ(p ".top", name " top", "", ARRAY),                               \
        REQ(p ".residuals_top", name " top residuals", "", ARRAY),                                 \
        REQ(p ".converged", name " converged", "", INT),                                           \
        REQ(p ".products", name " products", "", INT)

/* A density in hesse classes' "densities.operators" (--density). */
#define CLASS_DENSITY(p, name) REQ(p, name, "", OBJECT), CLASS_DENSITY_KEYS(p, name)
#define CLASS_DENSITY_KEYS(p, name)                                                                \
    REQ(p ".method", name " method", "", STRING), REQ(p ".density", name " density", "", ARRAY),   \
        REQ(p ".log10_density", name " log10 density", "", ARRAY),                                 \
        REQ(p ".weight_outside", name " weight outside the grid", "", NUMBER),                     \
        REQ(p ".products", name " products", "", INT)

static const hesse_key classes_keys[] = {
    REQ("solver", "solver", "", OBJECT),
    REQ("solver.eigensolver", "eigensolver", "", STRING),
    REQ("solver.tol", "tolerance", "", NUMBER),
    REQ("solver.seed", "seed", "", INT),
    REQ("solver.trace", "trace estimator", "", STRING),
    REQ("solver.trace_probes", "trace probes", "", INT),
    REQ("solver.trace_seed", "trace seed", "", INT),
    REQ("classes", "classes C", "", INT),
    REQ("class_weights", "class weights π_c", "", ARRAY),
    REQ("means_eigenvalues", "G_means", "", ARRAY),
    REQ("class_eigenvalues", "G_class", "", ARRAY),
    REQ("cross_eigenvalues", "G_cross", "", ARRAY),
    REQ("spectra", "spectra", "", OBJECT),
    CLASS_SPECTRUM("spectra.hessian", "H"),
    CLASS_SPECTRUM("spectra.ggn", "G"),
    CLASS_SPECTRUM("spectra.within", "G_within"),
    OPT("spectra.residual", "E", "", OBJECT), /* not with --no-residual */
    REQ("spectra.residual.top", "E top", "", ARRAY),
    REQ("spectra.residual.residuals_top", "E top residuals", "", ARRAY),
    REQ("spectra.residual.bottom", "E bottom", "", ARRAY),
    REQ("spectra.residual.residuals_bottom", "E bottom residuals", "", ARRAY),
    REQ("spectra.residual.converged", "E converged", "", INT),
    REQ("spectra.residual.products", "E products", "", INT),
    REQ("overlap", "overlap", "", OBJECT),
    REQ("overlap.averaging_vs_hessian", "class means vs H", "", NUMBER),
    REQ("overlap.averaging_vs_ggn", "class means vs G", "", NUMBER),
    REQ("overlap.hessian_vs_ggn", "H vs G", "", NUMBER),
    REQ("outliers", "outliers", "", OBJECT),
    REQ("outliers.count", "outliers in H's top", "", INT),
    REQ("outliers.gap_ratio", "gap ratio λ_k/λ_k+1", "", NUMBER),
    REQ("trace", "trace", "", OBJECT),
    REQ("trace.ggn", "tr G", "", NUMBER),
    REQ("trace.ggn_stderr", "tr G standard error", "", NUMBER),
    REQ("trace.means", "tr G_means", "", NUMBER),
    REQ("trace.within", "tr G_within", "", NUMBER),
    REQ("trace.within_stderr", "tr G_within standard error", "", NUMBER),
    REQ("trace.identity_gap", "gap", "", NUMBER),
    REQ("trace.identity_stderr", "gap standard error", "", NUMBER),
    REQ("trace.within_hutchpp", "tr G_within, independent Hutch++", "", NUMBER),
    REQ("trace.within_hutchpp_stderr", "its standard error", "", NUMBER),
    REQ("trace.within_hutchpp_gap", "independent − derived tr G_within", "", NUMBER),
    REQ("trace.within_hutchpp_gap_stderr", "that difference's standard error", "", NUMBER),
    REQ("two_way", "two-way structure of the means", "", OBJECT),
    REQ("two_way.weights", "weights", "", STRING),
    REQ("two_way.total", "tr G_means (Σ π_c ‖δ_{c,c′}‖²)", "", NUMBER),
    REQ("two_way.grand_mean", "grand mean C‖μ‖²", "", NUMBER),
    REQ("two_way.class_effect", "class effect C Σ π_c ‖a_c‖²", "", NUMBER),
    REQ("two_way.label_effect", "label effect Σ ‖b_c′‖²", "", NUMBER),
    REQ("two_way.interaction", "interaction Σ π_c ‖r_{c,c′}‖²", "", NUMBER),
    REQ("two_way.share_grand_mean", "grand mean share", "", NUMBER),
    REQ("two_way.share_class_effect", "class effect share", "", NUMBER),
    REQ("two_way.share_label_effect", "label effect share", "", NUMBER),
    REQ("two_way.share_interaction", "interaction share", "", NUMBER),
    REQ("two_way.additive_share", "main effects' share about the grand mean", "", NUMBER),
    REQ("two_way.class_terms", "tr G_class (Papyan's G_0)", "", NUMBER),
    REQ("two_way.cross_class_means", "tr G_1 (class means of the cross terms)", "", NUMBER),
    REQ("two_way.cross_deviations", "tr G_2 (cross terms about them)", "", NUMBER),
    OPT("densities", "densities", "", OBJECT), /* --density */
    REQ("densities.lo", "grid from", "", NUMBER),
    REQ("densities.hi", "grid to", "", NUMBER),
    REQ("densities.sigma", "Gaussian width", "", NUMBER),
    REQ("densities.probes", "SLQ probes", "", INT),
    REQ("densities.steps", "SLQ steps", "", INT),
    REQ("densities.eps", "log floor", "", NUMBER),
    REQ("densities.grid", "grid", "", ARRAY),
    REQ("densities.operators", "densities by operator", "", OBJECT),
    CLASS_DENSITY("densities.operators.hessian", "H"),
    CLASS_DENSITY("densities.operators.ggn", "G"),
    CLASS_DENSITY("densities.operators.within", "G_within"),
    OPT("densities.operators.residual", "E", "", OBJECT), /* not with --no-residual */
    CLASS_DENSITY_KEYS("densities.operators.residual", "E"),
    CLASS_DENSITY("densities.operators.means", "G_means"),
    CLASS_DENSITY("densities.operators.class", "G_class"),
    CLASS_DENSITY("densities.operators.cross", "G_cross"),
    REQ("backward_passes", "backward passes", "", INT),
    REQ("products", "products", "", INT),
    REQ("seconds", "seconds", "s", NUMBER),
    OPT("svg", "plot", "", STRING),
    END,
};

static const hesse_key samples_keys[] = {
    REQ("solver", "solver", "", OBJECT),
    REQ("solver.tol", "tolerance", "", NUMBER),
    REQ("solver.seed", "seed", "", INT),
    REQ("solver.probes", "probes", "", INT),
    REQ("solver.steps", "Lanczos steps", "", INT),
    REQ("solver.probe_seed", "probe seed", "", INT),
    REQ("classes", "classes C", "", INT),
    REQ("sizes", "sample sizes", "", ARRAY),
    REQ("runs", "runs", "", ARRAY),
    REQ("runs[].samples", "N", "", INT),
    REQ("runs[].outliers", "outliers (descending)", "", ARRAY),
    REQ("runs[].residuals", "residuals of the outliers", "", ARRAY),
    REQ("runs[].bulk_edge", "bulk edge", "", NUMBER),
    OPT("runs[].loss", "loss", "", NUMBER),
    REQ("runs[].grid", "grid", "", ARRAY),
    REQ("runs[].density", "density", "", ARRAY),
    REQ("runs[].log10_density", "log10 density", "", ARRAY),
    REQ("runs[].products", "products", "", INT),
    REQ("runs[].seconds", "seconds", "s", NUMBER),
    REQ("products", "products", "", INT),
    REQ("seconds", "seconds", "s", NUMBER),
    OPT("svg", "plot", "", STRING),
    OPT("svg_files", "plots written", "", ARRAY),
    END,
};

static const hesse_key kronecker_keys[] = {
    REQ("solver", "solver", "", OBJECT),
    REQ("solver.tol", "tolerance", "", NUMBER),
    REQ("solver.seed", "seed", "", INT),
    REQ("classes", "classes C", "", INT),
    REQ("k", "k (top eigenvalues compared)", "", INT),
    OPT("M", "E[M] asked for (exact or ggn)", "", STRING), /* since --M */
    REQ("skipped", "layers without Kronecker factors", "", ARRAY),
    REQ("models", "models", "", ARRAY),
    REQ("layers", "layers", "", ARRAY),
    REQ("layers[].name", "weight", "", STRING),
    REQ("layers[].model", "model file", "", STRING),
    REQ("layers[].kind", "kind", "", STRING),
    REQ("layers[].shape", "shape", "", ARRAY),
    REQ("layers[].positions", "positions", "", INT),
    REQ("layers[].M_eigenvalues", "E[M]", "", ARRAY),
    REQ("layers[].M_exact", "M exact (with second-order terms)", "", BOOL),
    OPT("layers[].M", "M (exact or ggn)", "", STRING), /* since --M */
    REQ("layers[].xx_eigenvalues", "E[xxᵀ]", "", ARRAY),
    REQ("layers[].kron_top", "Kronecker μ_a ν_b", "", ARRAY),
    REQ("layers[].exact_top", "exact λ_k", "", ARRAY),
    REQ("layers[].exact_residuals", "residual", "", ARRAY),
    REQ("layers[].overlap", "overlap (top-k)", "", NUMBER),
    REQ("layers[].rank_one", "rank-one ratio", "", ARRAY),
    REQ("layers[].outliers", "outliers in exact top", "", INT),
    REQ("layers[].outlier_gap_ratio", "gap ratio at the outliers", "", NUMBER),
    REQ("layers[].M_outliers", "outliers of E[M]", "", INT),
    REQ("layers[].classes_minus_one", "C − 1", "", INT),
    REQ("layers[].products", "products", "", INT),
    OPT("layers[].x_mean_norm", "‖E[x]‖", "", NUMBER),
    OPT("layers[].x_mean_ratio_fro", "‖E[x]E[x]ᵀ‖_F / ‖E[xxᵀ]‖_F", "", NUMBER), /* E[x] ≠ 0 */
    OPT("layers[].x_mean_ratio_2", "‖E[x]‖² / λ_max(E[xxᵀ])", "", NUMBER),
    OPT("layers[].x_mean_overlap", "|⟨u₁, E[x]/‖E[x]‖⟩|", "", NUMBER),
    OPT("cross_model_overlap", "overlap across models", "", ARRAY), /* several models */
    REQ("cross_model_overlap[].name", "weight", "", STRING),
    REQ("cross_model_overlap[].pairs", "pairs of models", "", ARRAY),
    REQ("cross_model_overlap[].pairs[].a", "model a", "", INT),
    REQ("cross_model_overlap[].pairs[].b", "model b", "", INT),
    REQ("cross_model_overlap[].pairs[].overlap", "overlap", "", NUMBER),
    REQ("products", "products", "", INT),
    REQ("seconds", "seconds", "s", NUMBER),
    END,
};

/* hesse blocks: block heterogeneity (Zhang et al. 2024; docs/analyses.md). */
static const hesse_key blocks_keys[] = {
    REQ("group", "blocks grouped by", "", STRING),
    REQ("solver", "solver", "", OBJECT),
    REQ("solver.probes", "SLQ probes per block", "", INT),
    REQ("solver.steps", "SLQ steps (at most the block's size)", "", INT),
    REQ("solver.seed", "seed (every block's)", "", INT),
    REQ("solver.tol", "Lanczos tolerance", "", NUMBER),
    REQ("solver.dense_below", "dense top eigenvalues up to", "", INT),
    REQ("solver.trace_samples", "Hutch++ products (exact up to this size)", "", INT),
    REQ("rank", "normalising rank k (λ_k)", "", INT),
    REQ("points", "common grid points", "", INT),
    REQ("sigma", "Gaussian width (normalised units)", "", NUMBER),
    OPT("width", "width asked for, in units of λ_k (--width)", "", NUMBER),
    REQ("lo", "common grid from", "", NUMBER),
    REQ("hi", "common grid to", "", NUMBER),
    REQ("js_log", "logarithm of the JS distance", "", STRING),
    REQ("js_max", "largest possible JS distance", "", NUMBER),
    REQ("js0", "JS⁰ (mean JS distance over pairs)", "", NUMBER),
    REQ("pairs", "pairs of blocks compared", "", INT),
    REQ("js", "JS distances (matrix)", "", ARRAY),
    REQ("grid", "common grid (λ / λ_k)", "", ARRAY),
    REQ("blocks", "blocks", "", ARRAY),
    REQ("blocks[].name", "block", "", STRING),
    REQ("blocks[].tensors", "tensors", "", ARRAY),
    REQ("blocks[].slice", "Q/K/V slice", "", STRING),
    REQ("blocks[].parameters", "parameters", "", INT),
    REQ("blocks[].top", "λ_max", "", NUMBER),
    REQ("blocks[].top_residual", "λ_max residual", "", NUMBER),
    REQ("blocks[].eigenvalues", "top eigenvalues", "", ARRAY),
    REQ("blocks[].residuals", "their residuals", "", ARRAY),
    REQ("blocks[].lambda_k", "λ_k (normaliser)", "", NUMBER),
    REQ("blocks[].trace", "trace", "", NUMBER),
    REQ("blocks[].trace_stderr", "trace standard error", "", NUMBER),
    REQ("blocks[].trace_method", "trace method", "", STRING),
    REQ("blocks[].included", "in the JS matrix", "", BOOL),
    OPT("blocks[].excluded", "why not in the JS matrix", "", STRING),
    REQ("blocks[].slq_lo", "SLQ grid from", "", NUMBER),
    REQ("blocks[].slq_hi", "SLQ grid to", "", NUMBER),
    REQ("blocks[].slq_grid", "SLQ grid", "", ARRAY),
    REQ("blocks[].slq_density", "SLQ density", "", ARRAY),
    OPT("blocks[].density", "density on the common grid (λ / λ_k)", "", ARRAY),
    REQ("blocks[].quadrature", "SLQ quadrature per probe", "", ARRAY),
    REQ("blocks[].quadrature[].nodes", "Ritz values", "", ARRAY),
    REQ("blocks[].quadrature[].weights", "weights", "", ARRAY),
    REQ("blocks[].products", "products", "", INT),
    REQ("blocks[].seconds", "seconds", "s", NUMBER),
    REQ("products", "products", "", INT),
    REQ("seconds", "seconds", "s", NUMBER),
    OPT("svg", "plot", "", STRING),
    OPT("svg_files", "plots written", "", ARRAY),
    END,
};

/* hesse info --json: the machine; with --model, the model's tensors instead. */
static const hesse_key info_keys[] = {
    OPT("memory_available_bytes", "memory available", "bytes", INT),
    OPT("tensors", "tensors", "", ARRAY),
    REQ("tensors[].name", "name", "", STRING),
    REQ("tensors[].kind", "kind", "", STRING),
    REQ("tensors[].shape", "shape", "", ARRAY),
    OPT("dataset", "dataset split", "", OBJECT),
    REQ("dataset.name", "dataset", "", STRING),
    REQ("dataset.samples", "samples", "", INT),
    REQ("dataset.shape", "sample shape", "", ARRAY),
    REQ("dataset.classes", "classes", "", INT),
    REQ("dataset.storage", "storage", "", STRING),
    REQ("dataset.class_counts", "samples per class", "", ARRAY),
    OPT("dataset.targets", "labels per sample (sequence positions)", "", INT),
    END,
};

static const hesse_schema_part eval_parts[] = {{envelope, 0}, {model, 0}, {data, 0},
                                               {ranks, 0},    {fit, 0},   {eval_keys, 0}};
static const hesse_schema_part train_parts[] = {
    {envelope, 0}, {model, 0}, {data, 0}, {train_keys, 0}};
static const hesse_schema_part dense_parts[] = {
    {envelope, 0}, {model, 0},  {data, 0}, {ranks, 0},
    {oper, 0},     {engine, 1}, {fit, 0},  {dense_keys, 0}}; /* engine keys: since --layer */
static const hesse_schema_part spectrum_parts[] = {SHARED, {spectrum_keys, 0}};
static const hesse_schema_part density_parts[] = {SHARED, {density_keys, 0}};
static const hesse_schema_part trace_parts[] = {SHARED, {trace_keys, 0}};
static const hesse_schema_part bench_parts[] = {{envelope, 0}, {bench_keys, 0}};
static const hesse_schema_part powerlaw_parts[] = {{envelope, 0}, {model, 1},        {data, 1},
                                                   {ranks, 1},    {oper, 1},         {engine, 1},
                                                   {fit, 1},      {powerlaw_keys, 0}};
static const hesse_schema_part classes_parts[] = {SHARED, {classes_keys, 0}};
static const hesse_schema_part samples_parts[] = {DESCRIBED, {samples_keys, 0}};
static const hesse_schema_part kronecker_parts[] = {SHARED, {kronecker_keys, 0}};
static const hesse_schema_part blocks_parts[] = {SHARED, {blocks_keys, 0}};
static const hesse_schema_part info_parts[] = {
    {envelope, 0}, {model, 1}, {ranks, 0}, {info_keys, 0}};

#define SCHEMA(name)                                                                               \
    { #name, 1, name##_parts, (int)(sizeof name##_parts / sizeof name##_parts[0]) }

/* One schema added per line, so that a new one does not reflow the table. */
/* clang-format off */
static const hesse_schema schemas[] = {
    SCHEMA(eval),    SCHEMA(train),   SCHEMA(dense),     SCHEMA(spectrum),
    SCHEMA(density), SCHEMA(trace),   SCHEMA(bench),     SCHEMA(powerlaw),
    SCHEMA(classes), SCHEMA(samples), SCHEMA(kronecker), SCHEMA(info),
    SCHEMA(blocks),
};
/* clang-format on */
#define NUM_SCHEMAS (int)(sizeof schemas / sizeof schemas[0])

/* What hesse_schema_key(NULL, ...) searches: the rows the commands share. */
static const hesse_schema_part shared_parts[] = {SHARED};
static const hesse_schema shared = {"", 1, shared_parts,
                                    (int)(sizeof shared_parts / sizeof shared_parts[0])};

/* ---- Lookup -------------------------------------------------------------------------------- */

const hesse_schema *hesse_schema_find(const char *command) {
    for (int i = 0; command && i < NUM_SCHEMAS; i++)
        if (strcmp(schemas[i].command, command) == 0) return &schemas[i];
    return NULL;
}

const hesse_schema *hesse_schema_all(int *count) {
    if (count) *count = NUM_SCHEMAS;
    return schemas;
}

const hesse_key *hesse_schema_key(const hesse_schema *s, const char *path, int *required) {
    if (!s) s = &shared;
    for (int p = 0; path && p < s->nparts; p++)
        for (const hesse_key *k = s->parts[p].keys; k->path; k++)
            if (strcmp(k->path, path) == 0) {
                if (required)
                    *required =
                        k->required && !(s->parts[p].optional && strpbrk(k->path, ".[") == NULL);
                return k;
            }
    return NULL;
}

const char *hesse_key_kind_name(hesse_key_kind kind) {
    static const char *const names[] = {"number", "int", "string", "bool", "array", "object"};
    return kind >= HESSE_KEY_NUMBER && kind <= HESSE_KEY_OBJECT ? names[kind] : "?";
}

/* ---- Check --------------------------------------------------------------------------------- */

#define PATH_MAX_LEN 256

typedef struct {
    const hesse_schema *s;
    char *why;
    size_t cap;
} checker;

static int refuse(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(checker *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->why && c->cap) snprintf(c->why, c->cap, "%s", msg);
    return hesse_error(HESSE_EINPUT, "%s", msg);
}

static const char *json_kind(const cJSON *v) {
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsBool(v)) return "bool";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    return "raw JSON";
}

static int kind_ok(const cJSON *v, hesse_key_kind kind) {
    switch (kind) {
    case HESSE_KEY_NUMBER:
        return cJSON_IsNumber(v) || cJSON_IsNull(v);
    case HESSE_KEY_INT:
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    case HESSE_KEY_STRING:
        return cJSON_IsString(v);
    case HESSE_KEY_BOOL:
        return cJSON_IsBool(v);
    case HESSE_KEY_ARRAY:
        return cJSON_IsArray(v);
    case HESSE_KEY_OBJECT:
        return cJSON_IsObject(v);
    }
    return 0;
}

/* "a.b" + "c" -> "a.b.c"; "" + "c" -> "c". */
static void join(char *out, const char *base, const char *key) {
    snprintf(out, PATH_MAX_LEN, "%s%s%s", base, *base ? "." : "", key);
}

/* Whether rows "<path>[].<key>" declare the elements of the array at path. */
static int has_elements(const hesse_schema *s, const char *path) {
    size_t n = strlen(path);
    for (int p = 0; p < s->nparts; p++)
        for (const hesse_key *k = s->parts[p].keys; k->path; k++)
            if (strncmp(k->path, path, n) == 0 && strncmp(k->path + n, "[].", 3) == 0) return 1;
    return 0;
}

static int check_object(checker *c, const cJSON *obj, const char *spath, const char *jpath);

static int check_value(checker *c, const cJSON *v, const hesse_key *k, const char *jpath) {
    if (!kind_ok(v, k->kind))
        return refuse(c, "%s: expected %s, found %s%s", jpath, hesse_key_kind_name(k->kind),
                      json_kind(v),
                      k->kind == HESSE_KEY_INT && cJSON_IsNumber(v) ? " with a fraction" : "");
    if (k->kind == HESSE_KEY_OBJECT) return check_object(c, v, k->path, jpath);
    if (k->kind != HESSE_KEY_ARRAY || !has_elements(c->s, k->path)) return HESSE_OK;
    char spath[PATH_MAX_LEN], jelem[PATH_MAX_LEN + 16];
    snprintf(spath, sizeof spath, "%s[]", k->path);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        snprintf(jelem, sizeof jelem, "%s[%d]", jpath, i);
        if (!cJSON_IsObject(e))
            return refuse(c, "%s: expected object, found %s", jelem, json_kind(e));
        int rc = check_object(c, e, spath, jelem);
        if (rc != HESSE_OK) return rc;
    }
    return HESSE_OK;
}

/* The keys of obj (schema path spath, JSON path jpath): each declared and of its kind, and
 * every required row below spath present. */
static int check_object(checker *c, const cJSON *obj, const char *spath, const char *jpath) {
    char sp[PATH_MAX_LEN], jp[PATH_MAX_LEN];
    for (const cJSON *v = obj->child; v; v = v->next) {
        join(sp, spath, v->string ? v->string : "");
        snprintf(jp, sizeof jp, "%s.%s", jpath, v->string ? v->string : "");
        const hesse_key *k = hesse_schema_key(c->s, sp, NULL);
        if (!k)
            return refuse(c, "%s: not in schema hesse.%s/%d (declare it in src/io/schema.c)", jp,
                          c->s->command, c->s->version);
        int rc = check_value(c, v, k, jp);
        if (rc != HESSE_OK) return rc;
    }
    size_t n = strlen(spath);
    for (int p = 0; p < c->s->nparts; p++)
        for (const hesse_key *k = c->s->parts[p].keys; k->path; k++) {
            const char *key = k->path + (n ? n + 1 : 0);
            int below = n ? strncmp(k->path, spath, n) == 0 && k->path[n] == '.'
                          : 1; /* and then no '.' or '[' in the rest */
            if (!below || strpbrk(key, ".[")) continue;
            int required = 0;
            hesse_schema_key(c->s, k->path, &required);
            if (required && !cJSON_GetObjectItemCaseSensitive(obj, key))
                return refuse(c, "%s.%s: required by schema hesse.%s/%d and missing", jpath, key,
                              c->s->command, c->s->version);
        }
    return HESSE_OK;
}

int hesse_schema_check(const cJSON *doc, char *why, size_t cap) {
    if (why && cap) why[0] = '\0';
    if (!doc) return hesse_error(HESSE_EINVAL, "hesse_schema_check: NULL document");
    checker c = {NULL, why, cap};
    if (!cJSON_IsObject(doc)) return refuse(&c, "$: expected a JSON object");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "schema");
    if (!cJSON_IsString(sc)) return refuse(&c, "$.schema: expected a string");
    char command[32];
    int version = 0, len = 0;
    const char *name = sc->valuestring;
    if (sscanf(name, "hesse.%31[a-z0-9_-]/%d%n", command, &version, &len) != 2 || name[len] != '\0')
        return refuse(&c, "$.schema: expected \"hesse.<command>/<version>\", found \"%s\"", name);
    c.s = hesse_schema_find(command);
    if (!c.s) return refuse(&c, "$.schema: no schema for command '%s'", command);
    if (version != c.s->version)
        return refuse(&c, "$.schema: version %d of hesse.%s, expected %d", version, command,
                      c.s->version);
    return check_object(&c, doc, "", "$");
}
