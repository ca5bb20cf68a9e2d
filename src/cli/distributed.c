/* Distributed runs of the commands that make products (mpirun / srun): every rank parses the
 * same options, loads the same model and selects the same samples as a serial run, keeps its
 * contiguous block of them, and sums every pass over the ranks through the engine's reduction
 * hook. Parameters, solver state and random numbers stay replicated (the solvers are
 * deterministic given the seed and the reduced products), so only rank 0 writes files, prints
 * and draws progress, and the others compute the same iterates in silence. */
#include "cli/cli.h"

#include <hesse/dist.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_root = 1;
volatile sig_atomic_t cli_signal;

/* A failing rank other than 0 keeps its message until the end of the run decides whether it
 * is the one to print it (collective failures are reported once, by the lowest failing rank). */
static char deferred[1200];

/* How long a rank that failed waits for the others at the end before it ends the job. */
#define CLI_DIST_PATIENCE 5.0

int cli_dist_start(int *argc, char ***argv) {
    int rc = hesse_dist_init(argc, argv);
    if (rc != HESSE_OK) return rc;
    cli_root = hesse_dist_rank() == 0;
    /* Rank 0 prints the results: the others' stdout (JSON, help) goes nowhere. */
    if (!cli_root && !freopen("/dev/null", "w", stdout))
        return hesse_error(HESSE_EIO, "rank %d: cannot redirect stdout to /dev/null",
                           hesse_dist_rank());
    return HESSE_OK;
}

int cli_distributed(void) {
    return hesse_dist_size() > 1;
}

void cli_fail_message(const char *line) {
    if (cli_root) {
        fputs(line, stderr);
        return;
    }
    snprintf(deferred, sizeof deferred, "%s", line);
}

int cli_dist_end(int code) {
    if (!hesse_dist_active()) return code;
    int job = code, first = -1;
    if (!hesse_dist_conclude(code, CLI_DIST_PATIENCE, &job, &first)) {
        /* The others are blocked in a reduction this rank will not join (or MPI failed):
         * report and end every rank. */
        if (deferred[0])
            fputs(deferred, stderr);
        else if (code == 0)
            fprintf(stderr, "hesse: rank %d of %d: %s\n", hesse_dist_rank(), hesse_dist_size(),
                    hesse_last_error());
        fprintf(stderr,
                "hesse: rank %d of %d failed while the other ranks still run: ending "
                "the job\n",
                hesse_dist_rank(), hesse_dist_size());
        fflush(stderr);
        hesse_dist_abort(code ? code : 4);
        return code ? code : 4;
    }
    if (deferred[0] && first == hesse_dist_rank()) fputs(deferred, stderr);
    hesse_dist_finalize();
    return job;
}

/* The engine's reduction: the sum over ranks, and on small reductions (every pass begins with
 * one: has any rank's loss gone non-finite?) the stop request of any rank, so that all ranks
 * see cli_stop change at the same point of the run and stop at the same solver boundary. */
static int reduce(void *ctx, double *data, int64_t count) {
    (void)ctx;
    if (count < 1 || count > 16) return hesse_dist_sum(NULL, data, count);
    double buf[17];
    memcpy(buf, data, (size_t)count * sizeof *buf);
    buf[count] = cli_signal ? 1.0 : 0.0;
    int rc = hesse_dist_sum(NULL, buf, count + 1);
    if (rc != HESSE_OK) return rc;
    memcpy(data, buf, (size_t)count * sizeof *buf);
    if (buf[count] > 0) cli_stop = 1;
    return HESSE_OK;
}

/* A checksum of the labels, so that ranks that read different data files are told apart. */
static uint64_t label_checksum(const hesse_samples *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t i = 0; i < s->n; i++) h = (h ^ (uint64_t)(uint32_t)s->y[i]) * 0x100000001b3ull;
    return h;
}

/* Every rank must run the same problem: rank 0's model hash, sample count and labels against
 * this rank's, agreed over all ranks. */
static int check_same_run(const hesse_model *m, const hesse_samples *s) {
    struct {
        char hash[65];
        int64_t n;
        uint64_t labels;
    } mine, root;
    memset(&mine, 0, sizeof mine);
    hesse_model_hash(m, mine.hash);
    mine.n = s->n;
    mine.labels = label_checksum(s);
    root = mine;
    int rc = hesse_dist_broadcast(&root, sizeof root, 0);
    if (rc != HESSE_OK) return rc;
    double differs = memcmp(&mine, &root, sizeof mine) != 0;
    if ((rc = hesse_dist_sum(NULL, &differs, 1)) != HESSE_OK) return rc;
    if (differs == 0) return HESSE_OK;
    return hesse_error(HESSE_EINPUT,
                       "the ranks disagree on the model or the samples (rank 0: model sha256 "
                       "%.16s..., %lld samples): every rank must read the same files",
                       root.hash, (long long)root.n);
}

int cli_distribute(cli_data *d, const hesse_model *m, hesse_engine *e) {
    const int P = hesse_dist_size(), r = hesse_dist_rank();
    if (P <= 1) return HESSE_OK;
    hesse_samples *s = &d->samples;
    /* Labels the model cannot take fail on every rank alike here, not on one rank's shard
     * inside a pass (which the other ranks would wait for). */
    const int C = hesse_model_num_outputs(m);
    for (int64_t i = 0; i < s->n; i++)
        if (s->y[i] < 0 || s->y[i] >= C)
            return hesse_error(HESSE_EINPUT,
                               "sample %lld has label %d but the model has %d outputs (labels "
                               "must lie in [0, %d))",
                               (long long)(s->source ? s->source[i] : i), (int)s->y[i], C, C);
    if (s->n < P)
        return hesse_error(HESSE_EINVAL,
                           "%lld samples cannot be shared among %d ranks: give at least one "
                           "sample per rank (--samples) or start fewer ranks",
                           (long long)s->n, P);
    int rc = check_same_run(m, s);
    if (rc != HESSE_OK) return rc;
    int64_t begin, count;
    hesse_dist_shard(s->n, r, P, &begin, &count);
    hesse_samples shard = {0};
    rc = hesse_samples_alloc(count, s->c, s->h, s->w, s->num_classes, &shard);
    if (rc != HESSE_OK) return rc;
    const int64_t dim = hesse_samples_dim(s);
    memcpy(shard.x, s->x + begin * dim, (size_t)(count * dim) * sizeof *shard.x);
    memcpy(shard.y, s->y + begin, (size_t)count * sizeof *shard.y);
    for (int64_t i = 0; i < count; i++)
        shard.source[i] = s->source ? s->source[begin + i] : begin + i;
    shard.total = s->n;
    hesse_samples_free(s);
    *s = shard;
    hesse_engine_set_reduce(e, reduce, NULL);
    return HESSE_OK;
}

int cli_default_threads(void) {
    /* Ranks on one node share its cores. */
    int local = hesse_dist_local_size();
    if (local <= 1) return 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus / local > 1 ? (int)(cpus / local) : 1;
}

void cli_describe_ranks(cJSON *doc) {
    if (!cli_distributed()) return;
    cJSON *o = cJSON_AddObjectToObject(doc, "distributed");
    cJSON_AddStringToObject(o, "backend", hesse_dist_backend());
    cJSON_AddStringToObject(o, "library", hesse_dist_library());
    cJSON_AddNumberToObject(o, "ranks", hesse_dist_size());
    cJSON_AddNumberToObject(o, "ranks_per_node", hesse_dist_local_size());
}
