/* Interruption (SIGINT, SIGTERM) and checkpoint files for resumable runs. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

volatile sig_atomic_t cli_stop;
static volatile sig_atomic_t stop_by_reduction; /* distributed: cli_stop follows the ranks */
static volatile sig_atomic_t stoppable;         /* a solver that polls cli_stop is running */

static void on_signal(int sig) {
    cli_signal = 1;
    if (stop_by_reduction) return;
    if (!stoppable || cli_stop) {
        /* nothing would look at cli_stop soon (loading, a power iteration, a dense solve), or
         * this is a second signal (SIGTERM after SIGINT): SA_RESETHAND restored this signal's
         * default action, which ends the process once the handler returns */
        raise(sig);
        return;
    }
    cli_stop = 1;
}

void cli_stoppable(int on) {
    stoppable = on;
}

void cli_signals_install(void) {
    stop_by_reduction = cli_distributed();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process the usual way */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static const char magic[8] = {'H', 'E', 'S', 'S', 'E', 'C', 'K', '1'};
/* A checkpoint's JSON header describes a run in a few hundred bytes; 1 MiB is plenty. */
#define CLI_CHECKPOINT_HEADER_MAX ((uint64_t)1 << 20)

int cli_checkpoint_write(const char *path, const cJSON *header, const void *const *parts,
                         const size_t *sizes, int nparts) {
    /* Rank 0 writes: the solver state is the same on every rank. No rank waits for it, so the
     * ranks may checkpoint at different boundaries (the interval is measured on each). */
    if (!cli_root) return HESSE_OK;
    /* The header also records the solver state's size and CRC-32, so that a truncated or
     * damaged file is refused by name before the solver reads it. */
    cJSON *full = cJSON_Duplicate(header, 1);
    if (!full) return hesse_error(HESSE_ENOMEM, "checkpoint: cannot format the header");
    uint64_t bytes = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < nparts; i++) {
        bytes += sizes[i];
        /* zlib restarts the sum on a NULL buffer: an empty part adds nothing */
        if (sizes[i] > 0) crc = crc32_z(crc, parts[i], sizes[i]);
    }
    char hex[16];
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc);
    cJSON_AddNumberToObject(full, "blob_bytes", (double)bytes);
    cJSON_AddStringToObject(full, "blob_crc32", hex);
    char *text = cJSON_PrintUnformatted(full);
    cJSON_Delete(full);
    if (!text) return hesse_error(HESSE_ENOMEM, "checkpoint: cannot format the header");
    size_t hl = strlen(text);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    int total = nparts + 3;
    const void **data = malloc((size_t)total * sizeof *data);
    size_t *lens = malloc((size_t)total * sizeof *lens);
    int rc;
    if (!data || !lens) {
        rc = hesse_error(HESSE_ENOMEM, "checkpoint: out of memory");
    } else {
        data[0] = magic;
        lens[0] = sizeof magic;
        data[1] = len;
        lens[1] = sizeof len;
        data[2] = text;
        lens[2] = hl;
        for (int i = 0; i < nparts; i++) {
            data[3 + i] = parts[i];
            lens[3 + i] = sizes[i];
        }
        rc = hesse_write_parts_atomic(path, total, data, lens);
    }
    free(data);
    free(lens);
    cJSON_free(text);
    return rc;
}

/* The header length after the magic: little-endian, bytes 8 to 15. */
static uint64_t header_length(const unsigned char *p) {
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)p[8 + i] << (8 * i);
    return hl;
}

/* How far a checkpoint stream reaches: magic, header length, the header, then the solver state
 * of the size the header gives. A stream that is no checkpoint ends after its first 16 bytes. */
static void checkpoint_size(void *ctx, const unsigned char *p, size_t have, size_t from,
                            size_t *total) {
    (void)ctx;
    (void)from;
    if (have < 16) return;
    uint64_t hl = header_length(p);
    if (memcmp(p, magic, sizeof magic) != 0 || hl > CLI_CHECKPOINT_HEADER_MAX) {
        *total = 16;
        return;
    }
    if (have < 16 + hl) return;
    cJSON *h = cJSON_ParseWithLength((const char *)p + 16, (size_t)hl);
    const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(h, "blob_bytes");
    double b = cJSON_IsNumber(bytes) && bytes->valuedouble >= 0 && bytes->valuedouble < 1e18
                   ? bytes->valuedouble
                   : 0;
    cJSON_Delete(h);
    *total = (size_t)(16 + hl + (uint64_t)b);
}

/* The header's record of the solver state: its size and CRC-32 must both be there and hold. */
static int check_state(const char *path, const cJSON *header, const unsigned char *blob,
                       size_t size) {
    const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(header, "blob_bytes");
    const cJSON *crc = cJSON_GetObjectItemCaseSensitive(header, "blob_crc32");
    if (!bytes || !crc)
        return hesse_error(HESSE_EINPUT,
                           "%s: checkpoint header has no %s: the size and CRC-32 of the solver "
                           "state are required (a file of an older hesse? start the run afresh)",
                           path, !bytes ? "blob_bytes" : "blob_crc32");
    if (!cJSON_IsNumber(bytes) || bytes->valuedouble != (double)size)
        return hesse_error(HESSE_EINPUT,
                           "%s: checkpoint is truncated or damaged: %zu bytes of solver state, its "
                           "header says %.17g",
                           path, size, cJSON_IsNumber(bytes) ? bytes->valuedouble : -1.0);
    char hex[16];
    uLong sum = crc32_z(crc32(0L, Z_NULL, 0), blob, size);
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)sum);
    if (!cJSON_IsString(crc) || strcmp(hex, crc->valuestring) != 0)
        return hesse_error(HESSE_EINPUT,
                           "%s: checkpoint is damaged: its solver state has CRC-32 %s, its "
                           "header says %.16s",
                           path, hex, cJSON_IsString(crc) ? crc->valuestring : "(not a string)");
    return HESSE_OK;
}

int cli_checkpoint_read(const char *path, cJSON **header, unsigned char **data,
                        const unsigned char **blob, size_t *blob_size) {
    *header = NULL;
    *data = NULL;
    size_t len = 0;
    int rc = hesse_read_file_sized(path, checkpoint_size, NULL, 16 + CLI_CHECKPOINT_HEADER_MAX,
                                   data, &len);
    if (rc != HESSE_OK) return rc;
    const unsigned char *p = *data;
    uint64_t hl = len >= 16 ? header_length(p) : 0;
    if (len < sizeof magic || memcmp(p, magic, sizeof magic) != 0) {
        rc = hesse_error(HESSE_EINPUT, "%s: not a hesse checkpoint (bad magic)", path);
        goto fail;
    }
    if (len < 16 || hl > len - 16) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: checkpoint is truncated in its header (%zu bytes, the header "
                         "alone needs %llu)",
                         path, len, len < 16 ? 16ull : (unsigned long long)(16 + hl));
        goto fail;
    }
    char *text = malloc(hl + 1);
    if (!text) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
        goto fail;
    }
    memcpy(text, p + 16, hl);
    text[hl] = '\0';
    /* The whole header is one JSON object: nothing after it, no NUL inside. */
    *header = strlen(text) == hl ? cJSON_ParseWithOpts(text, NULL, 1) : NULL;
    free(text);
    if (!cJSON_IsObject(*header)) {
        rc = hesse_error(HESSE_EINPUT, "%s: checkpoint header is not a JSON object", path);
        goto fail;
    }
    *blob = p + 16 + hl;
    *blob_size = len - 16 - hl;
    rc = check_state(path, *header, *blob, *blob_size);
    if (rc == HESSE_OK) return HESSE_OK;
fail:
    cJSON_Delete(*header);
    *header = NULL;
    free(*data);
    *data = NULL;
    return rc;
}

int cli_checkpoint_match(const cJSON *saved, const cJSON *now, const char *path) {
    const cJSON *item;
    cJSON_ArrayForEach(item, now) {
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(saved, item->string);
        char *a = cJSON_PrintUnformatted(item), *b = old ? cJSON_PrintUnformatted(old) : NULL;
        int same = a && b && strcmp(a, b) == 0;
        int rc = same ? HESSE_OK
                      : hesse_error(HESSE_EINPUT,
                                    "%s: the checkpoint is of another run: %s is %s there, %s now",
                                    path, item->string, b ? b : "missing", a ? a : "?");
        cJSON_free(a);
        cJSON_free(b);
        if (rc != HESSE_OK) return rc;
    }
    return HESSE_OK;
}

int cli_checkpoint_fn(void *ctx, const hesse_blob_part *parts, int nparts, size_t total) {
    (void)total;
    cli_checkpoint_ctx *c = ctx;
    const void *data[64];
    size_t sizes[64];
    if (nparts > 64) return hesse_error(HESSE_EINVAL, "checkpoint: too many parts");
    for (int i = 0; i < nparts; i++) {
        data[i] = parts[i].data;
        sizes[i] = parts[i].size;
    }
    int rc = cli_checkpoint_write(c->path, c->header, data, sizes, nparts);
    if (rc == HESSE_OK) c->written++;
    return rc;
}

cJSON *cli_run_header(const char *command, cli_curv *c) {
    cJSON *h = cJSON_CreateObject();
    char hash[65];
    hesse_model_hash(c->model, hash);
    cJSON_AddStringToObject(h, "command", command);
    cJSON_AddStringToObject(h, "model_sha256", hash);
    cJSON_AddStringToObject(h, "data", c->data.description);
    /* the content, not only the name: a file replaced under the same path is other data */
    cJSON_AddStringToObject(h, "data_sha256", cli_data_hash(&c->data));
    /* the loss and the input normalisation change the operator as much as the weights do */
    cJSON_AddStringToObject(h, "loss", hesse_loss_name(hesse_model_loss(c->model)));
    hesse_preprocess_to_json(&c->data.preprocess, cJSON_AddObjectToObject(h, "preprocess"));
    cJSON_AddStringToObject(h, "operator", hesse_curv_name(c->kind));
    cJSON_AddStringToObject(h, "layer", c->layer ? c->layer : "");
    cJSON_AddStringToObject(
        h, "precision", hesse_engine_precision(c->engine) == HESSE_PRECISION_F32 ? "f32" : "f64");
    return h;
}

int cli_stopped(const cli_checkpoint_ctx *cc) {
    if (cc->path && cc->written)
        return hesse_error(HESSE_EINTR,
                           "stopped by a signal; state saved in %s: continue with the same "
                           "command and --resume %s",
                           cc->path, cc->path);
    if (cc->path)
        return hesse_error(HESSE_EINTR,
                           "stopped by a signal before this run saved a state in %s (a state "
                           "it resumed from is still there)",
                           cc->path);
    return hesse_error(HESSE_EINTR, "stopped by a signal (no --checkpoint file given)");
}

int cli_checkpoint_resume(const char *path, const cJSON *header, unsigned char **data,
                          const unsigned char **blob, size_t *blob_size) {
    cJSON *saved = NULL;
    int rc = cli_checkpoint_read(path, &saved, data, blob, blob_size);
    if (rc == HESSE_OK) rc = cli_checkpoint_match(saved, header, path);
    cJSON_Delete(saved);
    if (rc == HESSE_OK) {
        cli_note("%s: resuming from %s",
                 cJSON_GetStringValue(cJSON_GetObjectItem(header, "command")), path);
        cli_checkpoint_resumed(path);
    }
    return rc;
}

int cli_keep_checkpoint;
static char *resumed_from; /* the checkpoint this run resumed from, removed when it succeeds */

void cli_checkpoint_resumed(const char *path) {
    if (cli_keep_checkpoint || !cli_root || resumed_from) return;
    resumed_from = strdup(path); /* out of memory: the file stays, as with --keep-checkpoint */
}

void cli_checkpoint_finish(int ok) {
    const char *other = ok && resumed_from ? cli_other_use(resumed_from) : NULL;
    if (other)
        cli_note("%s: kept %s: it is also %s of this run", cli_command, resumed_from, other);
    else if (ok && resumed_from && unlink(resumed_from) == 0)
        cli_note("%s: removed %s: the run resumed from it has finished (--keep-checkpoint "
                 "keeps it)",
                 cli_command, resumed_from);
    else if (ok && resumed_from && errno != ENOENT)
        hesse_log(HESSE_LOG_WARN, "%s: the finished run's checkpoint cannot be removed: %s",
                  resumed_from, strerror(errno));
    free(resumed_from);
    resumed_from = NULL;
}

int cli_resume_failed(const char *path, int rc) {
    if ((rc != HESSE_EINPUT && rc != HESSE_EINVAL) || strstr(hesse_last_error(), path)) return rc;
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", hesse_last_error());
    return hesse_error(rc, "%s: %s", path, detail);
}

int cli_checkpoint_options(const cli_opt *opts, int nopts, const char *ckpt) {
    static const char *const every[] = {"checkpoint-every", NULL}, *const keep[] = {
                                                                       "keep-checkpoint", NULL};
    const cli_opt *resume = cli_find(opts, nopts, "resume");
    int rc = ckpt ? HESSE_OK : cli_refuse_given(opts, nopts, every, "needs --checkpoint FILE");
    if (rc == HESSE_OK && !(resume && resume->seen))
        rc = cli_refuse_given(opts, nopts, keep, "needs --resume FILE");
    return rc;
}

void cli_checkpoint_attach(cli_checkpoint_ctx *cc, double every, hesse_checkpoint_fn *fn,
                           void **ctx, double *interval) {
    if (!cc->path) return;
    *fn = cli_checkpoint_fn;
    *ctx = cc;
    *interval = every;
}

int cli_lanczos_run(hesse_op *op, hesse_lanczos_params *p, cli_eig_watch *watch,
                    cli_checkpoint_ctx *cc, double every, const char *resume, hesse_eigs *r) {
    p->monitor = cli_eig_monitor;
    p->monitor_ctx = watch;
    p->stop = &cli_stop; /* the resumed run's; cli_lanczos_stoppable sets it for a fresh one */
    cli_checkpoint_attach(cc, every, &p->checkpoint, &p->checkpoint_ctx, &p->checkpoint_interval);
    int rc;
    if (resume) {
        unsigned char *data = NULL;
        const unsigned char *blob = NULL;
        size_t blob_size = 0;
        rc = cli_checkpoint_resume(resume, cc->header, &data, &blob, &blob_size);
        cli_stoppable(1);
        if (rc == HESSE_OK)
            rc = cli_resume_failed(resume, hesse_lanczos_resume(op, p, blob, blob_size, r));
        cli_stoppable(0);
        free(data);
    } else {
        rc = cli_lanczos_stoppable(op, p, r);
    }
    return rc == HESSE_EINTR ? cli_stopped(cc) : rc;
}
