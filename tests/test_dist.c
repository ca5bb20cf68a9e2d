/* dist/: the split of samples among ranks, the serial implementation, and (when an MPI
 * launcher starts this test: tests/mpi/dist.sh runs it under mpirun -np 3) sums, broadcasts
 * and the end-of-run agreement over real ranks, checked against sums computed in closed form. */
#include <hesse/dist.h>

#include "check.h"
#include "dist/dist-impl.h"

#include <string.h>

__extension__ typedef __int128 wide; /* n r for n near 2^63 */

/* Every rank's share: contiguous, in rank order, covering 0 .. n - 1, sizes within one, and
 * begin = floor(n r / P) (computed in 128 bits). */
static void test_shard(void) {
    const int64_t ns[] = {0, 1, 2, 7, 10, 1000, 60000, (int64_t)1 << 40, INT64_MAX - 5};
    const int sizes[] = {1, 2, 3, 7, 64};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++) {
            const int64_t n = ns[a];
            const int P = sizes[b];
            int64_t next = 0, lo = INT64_MAX, hi = 0;
            int ok = 1;
            for (int r = 0; r < P; r++) {
                int64_t begin, count;
                hesse_dist_shard(n, r, P, &begin, &count);
                wide expect = (wide)n * r / P;
                ok &= begin == next && begin == (int64_t)expect && count >= 0;
                next = begin + count;
                if (count < lo) lo = count;
                if (count > hi) hi = count;
            }
            CHECK_MSG(ok && next == n && hi - lo <= 1, "n %lld over %d ranks", (long long)n, P);
        }
}

/* Without a launcher: one rank, and reductions leave the data as it is. */
static void test_serial(void) {
    CHECK(hesse_dist_active() == 0);
    CHECK(hesse_dist_rank() == 0 && hesse_dist_size() == 1 && hesse_dist_local_size() == 1);
    CHECK(strcmp(hesse_dist_backend(), "serial") == 0);
    double v[3] = {1.5, -2.0, 3.25};
    CHECK(hesse_dist_sum(NULL, v, 3) == HESSE_OK);
    CHECK(v[0] == 1.5 && v[1] == -2.0 && v[2] == 3.25);
    CHECK(hesse_dist_sum(NULL, NULL, 0) == HESSE_OK);
    CHECK(hesse_dist_sum(NULL, NULL, 3) == HESSE_EINVAL);
    CHECK(hesse_dist_broadcast(v, sizeof v, 0) == HESSE_OK && v[2] == 3.25);
    int job = -1, first = -2;
    CHECK(hesse_dist_conclude(3, 1.0, &job, &first) == 1 && job == 3 && first == 0);
    CHECK(hesse_dist_conclude(0, 1.0, &job, &first) == 1 && job == 0 && first == -1);
}

/* Under a launcher: rank r contributes r + 1 + i / 8 to element i (exact in binary), so the
 * sum over P ranks is P (P + 1) / 2 + P i / 8 exactly, whatever the order of the additions.
 * A chunk of 7 elements splits the 100 elements into 15 calls. */
static void test_ranks(void) {
    const int P = hesse_dist_size(), r = hesse_dist_rank();
    CHECK(hesse_dist_active() == 1 && strcmp(hesse_dist_backend(), "mpi") == 0);
    CHECK(P >= 2 && r >= 0 && r < P && hesse_dist_local_size() >= 1);
    enum { N = 100 };
    double v[N];
    const int chunks[] = {7, 1 << 30};
    for (int k = 0; k < 2; k++) {
        const int chunk = chunks[k];
        dist_set_chunk(chunk);
        for (int i = 0; i < N; i++) v[i] = r + 1 + i / 8.0;
        CHECK(hesse_dist_sum(NULL, v, N) == HESSE_OK);
        int ok = 1;
        for (int i = 0; i < N; i++) ok &= v[i] == P * (P + 1) / 2.0 + P * (i / 8.0);
        CHECK_MSG(ok, "sums over %d ranks in chunks of %d", P, chunk);
    }
    /* A broadcast from the last rank, in chunks of 7 bytes. */
    dist_set_chunk(7);
    char text[64];
    snprintf(text, sizeof text, "from rank %d", r);
    CHECK(hesse_dist_broadcast(text, sizeof text, P - 1) == HESSE_OK);
    char expect[64];
    snprintf(expect, sizeof expect, "from rank %d", P - 1);
    CHECK(strcmp(text, expect) == 0);
    dist_set_chunk(0);
    CHECK(hesse_dist_broadcast(text, 1, P) == HESSE_EINVAL); /* no such root */
    /* The end: ranks 1 and 2 fail with codes 2 and 3; all come, so all agree. */
    int job = -1, first = -2, code = r == 1 ? 2 : r == 2 ? 3 : 0;
    CHECK(hesse_dist_conclude(code, 60.0, &job, &first) == 1);
    CHECK(job == (P > 2 ? 3 : 2) && first == 1);
}

int main(int argc, char **argv) {
    REQUIRE(hesse_dist_init(&argc, &argv) == HESSE_OK);
    test_shard();
    if (dist_launcher_size() == 0)
        test_serial();
    else
        test_ranks();
    int rc = test_summary("test_dist");
    hesse_dist_finalize();
    return rc;
}
