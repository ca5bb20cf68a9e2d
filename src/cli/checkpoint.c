/* Interruption (SIGINT, SIGTERM) and checkpoint files for resumable runs. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t cli_stop;

static void on_signal(int sig) {
    (void)sig;
    cli_stop = 1;
}

void cli_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process the usual way */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static const char magic[8] = {'H', 'E', 'S', 'S', 'E', 'C', 'K', '1'};

int cli_checkpoint_write(const char *path, const cJSON *header, const void *const *parts,
                         const size_t *sizes, int nparts) {
    char *text = cJSON_PrintUnformatted(header);
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

int cli_checkpoint_read(const char *path, cJSON **header, unsigned char **data,
                        const unsigned char **blob, size_t *blob_size) {
    *header = NULL;
    *data = NULL;
    size_t len = 0;
    int rc = hesse_read_file(path, data, &len);
    if (rc != HESSE_OK) return rc;
    const unsigned char *p = *data;
    uint64_t hl = 0;
    if (len >= 16)
        for (int i = 0; i < 8; i++) hl |= (uint64_t)p[8 + i] << (8 * i);
    if (len < 16 || memcmp(p, magic, sizeof magic) != 0 || hl > len - 16) {
        rc = hesse_error(HESSE_EINPUT, "%s: not a hesse checkpoint (bad magic or header length)",
                         path);
        goto fail;
    }
    char *text = malloc(hl + 1);
    if (!text) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
        goto fail;
    }
    memcpy(text, p + 16, hl);
    text[hl] = '\0';
    *header = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(*header)) {
        rc = hesse_error(HESSE_EINPUT, "%s: checkpoint header is not a JSON object", path);
        goto fail;
    }
    *blob = p + 16 + hl;
    *blob_size = len - 16 - hl;
    return HESSE_OK;
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

cJSON *cli_run_header(const char *command, const cli_curv *c) {
    cJSON *h = cJSON_CreateObject();
    char hash[65];
    hesse_model_hash(c->model, hash);
    cJSON_AddStringToObject(h, "command", command);
    cJSON_AddStringToObject(h, "model_sha256", hash);
    cJSON_AddStringToObject(h, "data", c->data.description);
    cJSON_AddStringToObject(h, "operator", hesse_curv_name(c->kind));
    cJSON_AddStringToObject(h, "layer", c->layer ? c->layer : "");
    return h;
}

int cli_stopped(const cli_checkpoint_ctx *cc) {
    if (cc->path && cc->written)
        return hesse_error(HESSE_EINTR,
                           "stopped by a signal; state saved in %s: continue with the same "
                           "command and --resume %s",
                           cc->path, cc->path);
    return hesse_error(HESSE_EINTR, "stopped by a signal (no --checkpoint file given)");
}

int cli_checkpoint_resume(const char *path, const cJSON *header, cJSON **saved,
                          unsigned char **data, const unsigned char **blob, size_t *blob_size) {
    int rc = cli_checkpoint_read(path, saved, data, blob, blob_size);
    if (rc == HESSE_OK) rc = cli_checkpoint_match(*saved, header, path);
    if (rc == HESSE_OK)
        cli_note("%s: resuming from %s",
                 cJSON_GetStringValue(cJSON_GetObjectItem(header, "command")), path);
    return rc;
}
