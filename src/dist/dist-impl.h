/* Shared by the two implementations of hesse/dist.h (serial.c, mpi.c). */
#ifndef HESSE_DIST_IMPL_H
#define HESSE_DIST_IMPL_H

#include <stdint.h>

/* The number of processes an MPI launcher started with this one, from its environment:
 * 0 when no launcher started it, -1 when one did but the count is not in the environment. */
int dist_launcher_size(void);

/* Elements per MPI call in hesse_dist_sum and bytes in hesse_dist_broadcast (default 2^30, as
 * MPI counts are ints); tests make it small to cover the split. */
void dist_set_chunk(int64_t chunk);

#endif
