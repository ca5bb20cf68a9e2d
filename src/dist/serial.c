/* hesse/dist.h without MPI: one rank, and every reduction is already complete. */
#include "dist/dist-impl.h"

#include <hesse/dist.h>

int hesse_dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    int launched = dist_launcher_size();
    if (launched > 1 || launched < 0)
        hesse_log(HESSE_LOG_WARN,
                  "started by an MPI launcher, but this hesse was built without MPI "
                  "(HESSE_MPI=OFF): every process runs the whole job on its own");
    return HESSE_OK;
}

int hesse_dist_active(void) {
    return 0;
}

int hesse_dist_rank(void) {
    return 0;
}

int hesse_dist_size(void) {
    return 1;
}

int hesse_dist_local_size(void) {
    return 1;
}

const char *hesse_dist_backend(void) {
    return "serial";
}

const char *hesse_dist_library(void) {
    return "";
}

int hesse_dist_sum(void *ctx, double *data, int64_t count) {
    (void)ctx;
    if (count < 0 || (count > 0 && !data))
        return hesse_error(HESSE_EINVAL, "hesse_dist_sum: invalid arguments");
    return HESSE_OK;
}

int hesse_dist_broadcast(void *data, size_t bytes, int root) {
    if ((bytes > 0 && !data) || root != 0)
        return hesse_error(HESSE_EINVAL, "hesse_dist_broadcast: invalid arguments");
    return HESSE_OK;
}

int hesse_dist_conclude(int code, double patience, int *job_code, int *first_failed) {
    (void)patience;
    *job_code = code;
    *first_failed = code ? 0 : -1;
    return 1;
}

void hesse_dist_finalize(void) {}

void dist_set_chunk(int64_t chunk) {
    (void)chunk;
}

void hesse_dist_abort(int code) {
    (void)code;
}
