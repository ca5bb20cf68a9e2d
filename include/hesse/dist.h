/* hesse/dist.h: data-parallel runs over ranks (MPI processes).
 *
 * Every rank holds the same model, the same solver state and the same random numbers, and a
 * contiguous shard of the samples. A pass over the data sums its shard, then the reduction
 * (hesse_dist_sum, installed with hesse_engine_set_reduce) sums over the ranks, so that every
 * rank gets the whole sum and every solver runs distributed without knowing it.
 *
 * Two implementations stand behind this header: MPI (a build with HESSE_MPI, Open MPI from
 * Debian), and a serial one with a single rank where every reduction is a no-op. The MPI
 * runtime starts only when the process was started by an MPI launcher (mpirun, mpiexec, srun
 * with PMI or PMIx), so the same binary runs serially as well. Only dist/ includes mpi.h.
 *
 * The functions are called from the main thread only (MPI_THREAD_FUNNELED). Errors of MPI
 * calls return HESSE_EIO with the call, the rank and MPI's own message in the last error. */
#ifndef HESSE_DIST_H
#define HESSE_DIST_H

#include <hesse/export.h>
#include <hesse/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the MPI runtime when an MPI launcher started this process and the build has MPI;
 * otherwise the run is serial (rank 0 of 1). A serial build started by a launcher with more
 * than one process logs a warning (every process would then run the whole job). MPI errors
 * from here on return to the caller (MPI_ERRORS_RETURN) instead of ending the job.
 * Call once, before any other function of this header. */
HESSE_API int hesse_dist_init(int *argc, char ***argv);

/* 1 when the MPI runtime runs (even with one rank), 0 for a serial run. */
HESSE_API int hesse_dist_active(void);
HESSE_API int hesse_dist_rank(void); /* 0 .. size - 1 */
HESSE_API int hesse_dist_size(void);
/* Ranks on this node, for sharing its cores among them (1 for a serial run). */
HESSE_API int hesse_dist_local_size(void);
/* "mpi" when the MPI runtime runs, else "serial"; and the MPI library this build uses
 * ("Open MPI v4.1.4"; "" for a build without MPI). */
HESSE_API const char *hesse_dist_backend(void);
HESSE_API const char *hesse_dist_library(void);

/* A hesse_reduce_fn (hesse/nn.h): sums count doubles in place over all ranks
 * (MPI_Allreduce with MPI_SUM; counts beyond an int's range go in several calls). Collective:
 * every rank calls it with the same count. ctx is unused. Serial: nothing to do.
 * For tests, HESSE_DIST_FAIL="RANK:K" makes the K-th call (1-based) on rank RANK fail as an
 * MPI error would. */
HESSE_API int hesse_dist_sum(void *ctx, double *data, int64_t count);

/* Copies `bytes` bytes from rank `root`'s buffer into every other rank's (MPI_Bcast).
 * Collective. */
HESSE_API int hesse_dist_broadcast(void *data, size_t bytes, int root);

/* The contiguous share of n items that `rank` of `size` takes: [*begin, *begin + *count) with
 * begin = floor(n rank / size). Shares differ by at most one item and cover 0 .. n - 1 in rank
 * order, so that the shards together are the serial run's items in the serial run's order. */
HESSE_API void hesse_dist_shard(int64_t n, int rank, int size, int64_t *begin, int64_t *count);

/* The end of a run, on every rank. `code` is this rank's exit code (0: success). A rank that
 * succeeded waits for all others; a rank that failed waits at most `patience` seconds, since
 * the others may be blocked in a reduction that it will never join. Returns 1 when every rank
 * arrived, with *job_code the largest code of all ranks and *first_failed the lowest rank with
 * a non-zero code (-1: none); 0 when the others did not come in time (the caller then reports
 * its error and calls hesse_dist_abort). Serial: returns 1 with code. */
HESSE_API int hesse_dist_conclude(int code, double patience, int *job_code, int *first_failed);

/* Ends the MPI runtime (every rank, after hesse_dist_conclude). No-op when serial. */
HESSE_API void hesse_dist_finalize(void);

/* Ends every rank of the job with exit code `code` (MPI_Abort); for a rank that failed while
 * others wait in a reduction. Serial: returns without doing anything. */
HESSE_API void hesse_dist_abort(int code);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_DIST_H */
