/* What both implementations share: the split of items among ranks, and how a process tells
 * that an MPI launcher started it. */
#include "dist/dist-impl.h"

#include <hesse/dist.h>

#include <stdlib.h>

void hesse_dist_shard(int64_t n, int rank, int size, int64_t *begin, int64_t *count) {
    if (n < 0) n = 0;
    if (size < 1) size = 1;
    if (rank < 0) rank = 0;
    if (rank >= size) rank = size - 1;
    /* floor(n r / P) without overflow for any n < 2^63: n = q P + m */
    const int64_t q = n / size, m = n % size;
    const int64_t b = q * rank + m * rank / size, e = q * (rank + 1) + m * (rank + 1) / size;
    *begin = b;
    *count = e - b;
}

/* Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE; MPICH's hydra and Slurm's PMI-2 set PMI_SIZE;
 * PMIx launchers (srun --mpi=pmix, prterun) set PMIX_RANK, with Slurm's count beside it. */
int dist_launcher_size(void) {
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const char *v = getenv(sizes[i]);
        if (v && *v) {
            long n = strtol(v, NULL, 10);
            return n > 0 ? (int)n : -1;
        }
    }
    if (getenv("PMIX_RANK") || getenv("PMI_RANK")) {
        const char *v = getenv("SLURM_NTASKS");
        long n = v ? strtol(v, NULL, 10) : 0;
        return n > 0 ? (int)n : -1;
    }
    return 0;
}
