/* Shared steps of the commands: option tables built per command, and the Lanczos options,
 * run and description used by every command that runs thick-restart Lanczos. */
#include "cli/cli.h"

#include <string.h>

int cli_start(const cli_command_doc *doc, int argc, char **argv, cli_opt *opts, int nopts,
              const int *threads, const int *quiet) {
    int rc = cli_parse(doc, argc, argv, opts, nopts);
    if (rc == HESSE_OK) cli_apply_common(*threads, *quiet);
    return rc;
}

void cli_lanczos_params(const cli_lanczos_opts *lo, hesse_lanczos_params *p) {
    if (lo->tol >= 0) p->tol = lo->tol;
    p->basis = lo->basis;
    if (lo->memory_gib > 0) p->memory_budget = (size_t)(lo->memory_gib * 1073741824.0);
    if (lo->max_restarts > 0) p->max_restarts = lo->max_restarts;
    p->seed = lo->seed;
    p->verify = !lo->no_verify;
}

int cli_lanczos_solve(cli_curv *c, const char *task, const cli_lanczos_opts *lo,
                      hesse_lanczos_params *p, cli_checkpoint_ctx *cc, hesse_eigs *r) {
    const int wanted = p->top + p->bottom;
    double t0 = hesse_now();
    cli_eig_watch watch;
    hesse_op watched = cli_eig_watch_start(&watch, task, &c->op, wanted);
    int rc = cli_lanczos_run(&watched, p, &watch, cc, lo->checkpoint_every, lo->resume, r);
    if (rc == HESSE_OK) cli_solved(task, r, wanted, t0);
    return rc;
}

void cli_solved(const char *task, const hesse_eigs *r, int wanted, double t0) {
    hesse_progress pr = {task, r->nconverged, wanted, hesse_now() - t0, "", 1};
    hesse_report_progress(&pr);
    if (r->nconverged < wanted)
        hesse_log(HESSE_LOG_WARN,
                  "only %d of %d eigenpairs reached the tolerance; the others are "
                  "estimates (see residuals)",
                  r->nconverged, wanted);
}

void cli_lanczos_describe(cJSON *solver, const hesse_lanczos_params *p, const hesse_eigs *r,
                          const char *resume) {
    cJSON_AddNumberToObject(solver, "tol", p->tol);
    cJSON_AddNumberToObject(solver, "basis", r->basis);
    cJSON_AddNumberToObject(solver, "seed", (double)p->seed);
    cJSON_AddBoolToObject(solver, "verify", p->verify);
    cJSON_AddNumberToObject(solver, "restarts", r->restarts);
    cJSON_AddNumberToObject(solver, "breakdowns", r->breakdowns);
    cJSON_AddNumberToObject(solver, "fresh_starts", r->fresh_starts);
    cJSON_AddNumberToObject(solver, "iterations", (double)r->iterations);
    if (resume) cJSON_AddStringToObject(solver, "resumed_from", resume);
}

void cli_eigs_describe(cJSON *res, const hesse_eigs *r, int lanczos) {
    cJSON_AddNumberToObject(res, "converged", r->nconverged);
    cJSON_AddNumberToObject(res, "anorm", r->anorm);
    cJSON_AddBoolToObject(res, "residuals_explicit", r->residuals_explicit);
    if (lanczos) cJSON_AddNumberToObject(res, "orthogonality", r->orthogonality);
}

int cli_lanczos_stoppable(const hesse_op *op, hesse_lanczos_params *p, hesse_eigs *r) {
    p->stop = &cli_stop;
    cli_stoppable(1);
    int rc = hesse_lanczos_eigs(op, p, r);
    cli_stoppable(0);
    return rc;
}
