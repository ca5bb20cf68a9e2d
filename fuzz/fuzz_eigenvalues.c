/* The eigenvalue files `hesse powerlaw --eigenvalues FILE` fits (cli/cmd_powerlaw.c): a JSON
 * result with a "top" or "eigenvalues" array, or text with one number per line and an
 * optional header. The harness runs the command itself, so the fit and the result document
 * it writes are exercised too. Its one-line error goes to /dev/null. */
#include "fuzz.h"

#include "cli/cli.h"

#include <fcntl.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    char path[512], out[512];
    snprintf(path, sizeof path, "%s", fuzz_write_file("eigenvalues", data, size));
    snprintf(out, sizeof out, "%s/fit.json", fuzz_dir());
    char *argv[] = {"powerlaw", "-q", "--eigenvalues", path, "-o", out, NULL};
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    FUZZ_ASSERT(saved >= 0 && null >= 0);
    dup2(null, 2);
    int code = cli_finish(cmd_powerlaw(6, argv)); /* as main: deliver the staged result */
    dup2(saved, 2);
    close(saved);
    close(null);
    FUZZ_ASSERT(code == 0 || code == 2 || code == 3);
    if (code == 0) {
        unsigned char *text = NULL;
        size_t len = 0;
        FUZZ_ASSERT(hesse_read_file(out, &text, &len) == HESSE_OK);
        cJSON *doc = cJSON_ParseWithLength((const char *)text, len);
        FUZZ_ASSERT(cJSON_IsObject(doc));
        cJSON_Delete(doc);
        free(text);
        unlink(out);
    }
    return 0;
}
