/* The command line's checkpoint files (cli/checkpoint.c): "HESSECK1", a little-endian u64
 * header length, a JSON header describing the run, then the solver's blob. A file that reads
 * hands out a JSON object and a blob inside the file; matching it against a run's header
 * either agrees or names a key. */
#include "fuzz.h"

#include "cli/cli.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("run.ckpt", data, size);
    cJSON *header = NULL;
    unsigned char *file = NULL;
    const unsigned char *blob = NULL;
    size_t blob_size = 0;
    hesse_clear_error();
    int rc = cli_checkpoint_read(path, &header, &file, &blob, &blob_size);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        FUZZ_ASSERT(header == NULL && file == NULL);
        return 0;
    }
    FUZZ_ASSERT(cJSON_IsObject(header));
    FUZZ_ASSERT(blob >= file + 16 && blob + blob_size == file + size);
    /* The header of the run that would resume from it (cli_run_header's keys). */
    cJSON *now = cJSON_CreateObject();
    cJSON_AddStringToObject(now, "command", "spectrum");
    cJSON_AddStringToObject(now, "model_sha256", "00");
    cJSON_AddStringToObject(now, "data", "fashion-mnist/train, first 100");
    cJSON_AddStringToObject(now, "data_sha256",
                            "0000000000000000000000000000000000000000000000000000000000000000");
    cJSON_AddStringToObject(now, "loss", "cross_entropy");
    cJSON_AddItemToObject(now, "preprocess", cJSON_Parse("{\"scale\":0.00392156862745098}"));
    cJSON_AddStringToObject(now, "operator", "hessian");
    cJSON_AddStringToObject(now, "layer", "");
    cJSON_AddNumberToObject(now, "top", 4);
    hesse_clear_error();
    rc = cli_checkpoint_match(header, now, path);
    if (rc != HESSE_OK) FUZZ_CHECK_FAILURE(rc);
    cJSON_Delete(now);
    cJSON_Delete(header);
    free(file);
    return 0;
}
