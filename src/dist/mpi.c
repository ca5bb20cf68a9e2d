/* hesse/dist.h over MPI (Open MPI). Reductions and broadcasts run on a duplicate of
 * MPI_COMM_WORLD, and the end-of-run agreement on another, so that neither is ever matched
 * against the other's collectives. Every communicator returns its errors (MPI_ERRORS_RETURN),
 * which become HESSE_EIO with MPI's message. */
#include "dist/dist-impl.h"

#include <hesse/dist.h>

#include <mpi.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    int64_t chunk; /* elements per MPI call: counts are ints */
    int active, rank, size, local_size;
    MPI_Comm comm; /* reductions, broadcasts */
    MPI_Comm end;  /* hesse_dist_conclude */
    long long calls, fail_at;
    int fail_rank;
    char library[256];
} dist = {1 << 30, 0, 0, 1, 1, 0, 0, 0, 0, -1, ""};

static int mpi_error(const char *call, int err) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", err);
    return hesse_error(HESSE_EIO, "%s failed on rank %d of %d: %s (another rank may have ended)",
                       call, dist.rank, dist.size, msg);
}

/* HESSE_DIST_FAIL="RANK:K": the K-th reduction on rank RANK fails (for tests). */
static void read_injected_failure(void) {
    const char *v = getenv("HESSE_DIST_FAIL");
    int rank;
    long long k;
    if (v && sscanf(v, "%d:%lld", &rank, &k) == 2 && k > 0) {
        dist.fail_rank = rank;
        dist.fail_at = k;
    }
}

int hesse_dist_init(int *argc, char ***argv) {
    if (dist.active) return HESSE_OK;
    if (dist_launcher_size() == 0) return HESSE_OK; /* not started by a launcher: serial */
    int provided = 0, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return mpi_error("MPI_Init_thread", rc);
    dist.active = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm node = MPI_COMM_NULL;
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &dist.rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(MPI_COMM_WORLD, &dist.size)) != MPI_SUCCESS)
        return mpi_error("MPI_Comm_rank/size", rc);
    if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &dist.comm)) != MPI_SUCCESS ||
        (rc = MPI_Comm_dup(MPI_COMM_WORLD, &dist.end)) != MPI_SUCCESS)
        return mpi_error("MPI_Comm_dup", rc);
    MPI_Comm_set_errhandler(dist.comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(dist.end, MPI_ERRORS_RETURN);
    if ((rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, dist.rank, MPI_INFO_NULL,
                                  &node)) != MPI_SUCCESS)
        return mpi_error("MPI_Comm_split_type", rc);
    MPI_Comm_size(node, &dist.local_size);
    MPI_Comm_free(&node);
    read_injected_failure();
    return HESSE_OK;
}

int hesse_dist_active(void) {
    return dist.active;
}

int hesse_dist_rank(void) {
    return dist.rank;
}

int hesse_dist_size(void) {
    return dist.size;
}

int hesse_dist_local_size(void) {
    return dist.local_size;
}

const char *hesse_dist_backend(void) {
    return dist.active ? "mpi" : "serial";
}

const char *hesse_dist_library(void) {
    if (!dist.library[0]) { /* may be asked before MPI_Init */
        char lib[MPI_MAX_LIBRARY_VERSION_STRING];
        int len = 0;
        if (MPI_Get_library_version(lib, &len) != MPI_SUCCESS) return "MPI";
        lib[strcspn(lib, ",\n")] = '\0'; /* "Open MPI v4.1.4" */
        snprintf(dist.library, sizeof dist.library, "%s", lib);
    }
    return dist.library;
}

int hesse_dist_sum(void *ctx, double *data, int64_t count) {
    (void)ctx;
    if (count < 0 || (count > 0 && !data))
        return hesse_error(HESSE_EINVAL, "hesse_dist_sum: invalid arguments");
    if (!dist.active) return HESSE_OK;
    dist.calls++;
    if (dist.rank == dist.fail_rank && dist.calls == dist.fail_at)
        return hesse_error(HESSE_EIO,
                           "MPI_Allreduce of %lld doubles failed on rank %d of %d: injected "
                           "failure (HESSE_DIST_FAIL)",
                           (long long)count, dist.rank, dist.size);
    for (int64_t at = 0; at < count;) {
        int c = (int)(count - at > dist.chunk ? dist.chunk : count - at);
        int rc = MPI_Allreduce(MPI_IN_PLACE, data + at, c, MPI_DOUBLE, MPI_SUM, dist.comm);
        if (rc != MPI_SUCCESS) return mpi_error("MPI_Allreduce", rc);
        at += c;
    }
    return HESSE_OK;
}

int hesse_dist_broadcast(void *data, size_t bytes, int root) {
    if ((bytes > 0 && !data) || root < 0 || root >= dist.size)
        return hesse_error(HESSE_EINVAL, "hesse_dist_broadcast: invalid arguments");
    if (!dist.active) return HESSE_OK;
    unsigned char *p = data;
    for (size_t at = 0; at < bytes;) {
        int c = (int)(bytes - at > (size_t)dist.chunk ? (size_t)dist.chunk : bytes - at);
        int rc = MPI_Bcast(p + at, c, MPI_BYTE, root, dist.comm);
        if (rc != MPI_SUCCESS) return mpi_error("MPI_Bcast", rc);
        at += (size_t)c;
    }
    return HESSE_OK;
}

int hesse_dist_conclude(int code, double patience, int *job_code, int *first_failed) {
    *job_code = code;
    *first_failed = code ? dist.rank : -1;
    if (!dist.active) return 1;
    MPI_Request req;
    int rc = MPI_Ibarrier(dist.end, &req), done = 0;
    if (rc != MPI_SUCCESS) {
        mpi_error("MPI_Ibarrier", rc);
        return 0;
    }
    const double t0 = hesse_now();
    const struct timespec pause = {0, 1000000}; /* 1 ms between tests */
    for (;;) {
        if ((rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE)) != MPI_SUCCESS) {
            mpi_error("MPI_Test", rc);
            return 0;
        }
        if (done) break;
        if (code != 0 && hesse_now() - t0 > patience) return 0; /* the job ends with an abort */
        nanosleep(&pause, NULL);
    }
    int worst = code, first = code ? dist.rank : INT_MAX;
    if ((rc = MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, dist.end)) != MPI_SUCCESS ||
        (rc = MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, dist.end)) != MPI_SUCCESS) {
        mpi_error("MPI_Allreduce", rc);
        return 0;
    }
    *job_code = worst;
    *first_failed = first == INT_MAX ? -1 : first;
    return 1;
}

void hesse_dist_finalize(void) {
    if (!dist.active) return;
    MPI_Comm_free(&dist.comm);
    MPI_Comm_free(&dist.end);
    MPI_Finalize();
    dist.active = 0;
}

void dist_set_chunk(int64_t chunk) {
    dist.chunk = chunk > 0 && chunk <= (1 << 30) ? chunk : (1 << 30);
}

void hesse_dist_abort(int code) {
    if (dist.active) MPI_Abort(MPI_COMM_WORLD, code);
}
