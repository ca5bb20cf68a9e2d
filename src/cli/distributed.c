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
/* Rank 0's default engine memory budget (0: this process's own). */
static size_t engine_budget;

/* How long a rank that failed waits for the others at the end before it ends the job. */
#define CLI_DIST_PATIENCE 5.0

int cli_dist_start(int *argc, char ***argv) {
    int rc = hesse_dist_init(argc, argv);
    if (rc != HESSE_OK) return rc;
    cli_root = hesse_dist_rank() == 0;
    if (hesse_dist_size() > 1) {
        /* The defaults that follow memory (the solvers' bases, the engine's chunk and cache)
         * are rank 0's on every rank: ranks that chose their own would run different solvers
         * and wait for each other in mismatched reductions. */
        uint64_t mem[2] = {hesse_mem_available(), hesse_engine_defaults().memory_budget};
        if ((rc = hesse_dist_broadcast(mem, sizeof mem, 0)) != HESSE_OK) return rc;
        if (mem[0]) hesse_mem_set_available(mem[0]);
        engine_budget = (size_t)mem[1];
    }
    /* Rank 0 prints the results: the others' stdout (JSON, help) goes nowhere. */
    if (!cli_root && !freopen("/dev/null", "w", stdout))
        return hesse_error(HESSE_EIO, "rank %d: cannot redirect stdout to /dev/null",
                           hesse_dist_rank());
    return HESSE_OK;
}

hesse_engine_params cli_engine_defaults(void) {
    hesse_engine_params p = hesse_engine_defaults();
    if (engine_budget) p.memory_budget = engine_budget;
    return p;
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
    if (!hesse_dist_active()) return cli_finish(code);
    int job = code, first = -1;
    if (!hesse_dist_conclude(code, CLI_DIST_PATIENCE, &job, &first)) {
        cli_finish(code ? code : 4); /* removes the staged outputs */
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
    /* Rank 0 delivers its outputs only now that every rank has succeeded. */
    job = cli_finish(job);
    hesse_dist_finalize();
    return job;
}

/* The check every pass begins with: whether any rank's samples failed, and whether any rank was
 * signalled, in one reduction, so that every rank sees cli_stop change at the same pass and stops
 * at the same solver boundary. */
static int pass_check(void *ctx, int failed, int *any) {
    (void)ctx;
    double v[2] = {failed ? 1.0 : 0.0, cli_signal ? 1.0 : 0.0};
    int rc = hesse_dist_sum(NULL, v, 2);
    if (rc != HESSE_OK) return rc;
    if (v[1] > 0) cli_stop = 1;
    *any = v[0] > 0;
    return HESSE_OK;
}

/* ---- Agreement: every rank runs the same problem --------------------------------------------
 * A run is described by fields (the command, every command-line argument but --threads and
 * --quiet, the model's and the samples' content, the resolved engine sizes and memory), each
 * hashed;
 * rank 0's hashes are broadcast and every rank compares them with its own, so that a rank
 * started differently ends the whole run before the first product, naming the field. */

enum { AGREE_MAX = 256 };

typedef struct {
    int n;
    char name[AGREE_MAX][48];
    uint64_t hash[AGREE_MAX];
    char root_value[AGREE_MAX][64]; /* this rank's text of the field, for the message */
} run_description;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static void field(run_description *d, const char *name, const char *value) {
    if (d->n == AGREE_MAX) return;
    snprintf(d->name[d->n], sizeof d->name[0], "%.47s", name);
    snprintf(d->root_value[d->n], sizeof d->root_value[0], "%.63s", value);
    d->hash[d->n++] = fnv1a(value);
}

static void field_int(run_description *d, const char *name, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    field(d, name, buf);
}

static int cli_argc;
static char **cli_argv;

void cli_dist_command_line(int argc, char **argv) {
    cli_argc = argc;
    cli_argv = argv;
}

/* The arguments, option by option ("--top 5"), less those that may differ between ranks. */
static void describe_arguments(run_description *d) {
    for (int i = 1; i < cli_argc; i++) {
        const char *a = cli_argv[i];
        int has_value =
            a[0] == '-' && !strchr(a, '=') && i + 1 < cli_argc && cli_argv[i + 1][0] != '-';
        const char *v = has_value ? cli_argv[i + 1] : "";
        if (strcmp(a, "--threads") == 0 || strncmp(a, "--threads=", 10) == 0 ||
            strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            i += strcmp(a, "--threads") == 0;
            continue;
        }
        char name[64], value[4200];
        if (a[0] == '-')
            snprintf(name, sizeof name, "option %.40s", a);
        else
            snprintf(name, sizeof name, "argument %d ('%.24s')", i, a);
        snprintf(value, sizeof value, "%s%s%s", a, has_value ? " " : "", v);
        field(d, name, value);
        i += has_value;
    }
}

static int check_same_run(cli_data *data, const hesse_model *m, const hesse_engine *e) {
    run_description *d = calloc(1, sizeof *d);
    if (!d) return hesse_error(HESSE_ENOMEM, "out of memory");
    char hash[65];
    field(d, "the command", cli_command);
    describe_arguments(d); /* first: the sizes below follow from them */
    hesse_model_hash(m, hash);
    field(d, "the model (sha256)", hash);
    field(d, "the samples (content sha256)", cli_data_hash(data));
    field_int(d, "the samples per pass (chunk)", hesse_engine_chunk(e));
    field_int(d, "the vectors per pass (block)", hesse_engine_max_block(e));
    field(d, "the precision", hesse_engine_precision(e) == HESSE_PRECISION_F32 ? "f32" : "f64");
    field_int(d, "the memory for the solvers", (int64_t)hesse_mem_available());
    int64_t counts[2] = {d->n, d->n};
    uint64_t root[AGREE_MAX];
    memcpy(root, d->hash, sizeof root);
    int rc = hesse_dist_broadcast(counts, sizeof counts, 0);
    if (rc == HESSE_OK) rc = hesse_dist_broadcast(root, sizeof root, 0);
    /* differs[i]: how many ranks disagree with rank 0 on field i; the last: on the count */
    double *differs = calloc(AGREE_MAX + 1, sizeof *differs);
    if (rc == HESSE_OK && !differs) rc = hesse_error(HESSE_ENOMEM, "out of memory");
    if (rc == HESSE_OK) {
        differs[AGREE_MAX] = counts[0] != d->n;
        for (int i = 0; i < d->n && i < counts[0]; i++) differs[i] = root[i] != d->hash[i];
        rc = hesse_dist_sum(NULL, differs, AGREE_MAX + 1);
    }
    for (int i = 0; rc == HESSE_OK && i < AGREE_MAX; i++)
        if (differs[i] > 0)
            rc = hesse_error(HESSE_EINVAL,
                             "the ranks disagree on %s (rank 0: '%s'; ranks that differ: %g): "
                             "every rank must run the same command on the same model and data",
                             d->name[i], cli_root ? d->root_value[i] : "?", differs[i]);
    if (rc == HESSE_OK && differs[AGREE_MAX] > 0)
        rc = hesse_error(HESSE_EINVAL,
                         "the ranks disagree on the command line (rank 0 has %lld fields; ranks "
                         "with another number: %g): every rank must run the same command",
                         (long long)counts[0], differs[AGREE_MAX]);
    free(differs);
    free(d);
    return rc;
}

int cli_distribute(cli_data *d, const hesse_model *m, hesse_engine *e) {
    const int P = hesse_dist_size(), r = hesse_dist_rank();
    if (P <= 1) return HESSE_OK;
    hesse_samples *s = &d->samples;
    int rc = check_same_run(d, m, e); /* first: what follows then fails on every rank alike */
    if (rc != HESSE_OK) return rc;
    /* Labels the model cannot take fail on every rank alike here, not on one rank's shard
     * inside a pass (which the other ranks would wait for). */
    const int C = hesse_model_classes(m), T = hesse_samples_targets(s);
    for (int64_t i = 0; i < s->n * T; i++)
        if (s->y[i] < 0 || s->y[i] >= C)
            return hesse_error(HESSE_EINPUT,
                               "sample %lld has label %d but the model has %d outputs (labels "
                               "must lie in [0, %d))",
                               (long long)(s->source ? s->source[i / T] : i / T), (int)s->y[i], C,
                               C);
    if (s->n < P)
        return hesse_error(HESSE_EINVAL,
                           "%lld samples cannot be shared among %d ranks: give at least one "
                           "sample per rank (--samples) or start fewer ranks",
                           (long long)s->n, P);
    int64_t begin, count;
    hesse_dist_shard(s->n, r, P, &begin, &count);
    hesse_samples shard = {0};
    rc = hesse_samples_alloc_like(s, count, &shard);
    if (rc != HESSE_OK) return rc;
    const int64_t dim = hesse_samples_dim(s);
    memcpy(shard.x, s->x + begin * dim, (size_t)(count * dim) * sizeof *shard.x);
    memcpy(shard.y, s->y + begin * T, (size_t)(count * T) * sizeof *shard.y);
    for (int64_t i = 0; i < count; i++)
        shard.source[i] = s->source ? s->source[begin + i] : begin + i;
    shard.total = s->n;
    hesse_samples_free(s);
    *s = shard;
    hesse_engine_set_reduce(e, hesse_dist_sum, NULL);
    hesse_engine_set_pass_check(e, pass_check, NULL);
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
