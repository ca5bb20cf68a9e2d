/* Command-line options (cli/args.c): "--name value", "--name=value", short options, flags,
 * lists, operands after "--", and the typed, range-checked numbers (int, int64, u64, double);
 * plus the per-channel --mean/--std lists (data/select.c). A value that parses lies in its
 * option's range.
 *
 * --model is an input and -o an output: when both name one existing file, the output check
 * refuses it.
 *
 * Input: arguments separated by NUL bytes (at most 64); the first two also go to the
 * --mean/--std parser. */
#include "fuzz.h"

#include "cli/cli.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 64

static int once;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!once) {
        once = 1;
        if (!freopen("/dev/null", "w", stdout)) abort(); /* --help prints there */
    }
    if (size > 8192) return 0;
    char *text = malloc(size + 1);
    FUZZ_ASSERT(text);
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "fuzz";
    for (size_t at = 0; at <= size && argc <= MAX_ARGS; at += strlen(text + at) + 1)
        argv[argc++] = text + at;
    argv[argc] = NULL;

    int top = -7, flag = 0;
    int64_t samples = -7;
    uint64_t seed = 7;
    double tol = -7, lr = -7;
    const char *out = NULL, *name = NULL, *model = NULL;
    cli_list models = {0, NULL};
    cli_opt opts[] = {
        {"top", 0, OPT_INT, &top, "K", "", 0, 100000, 0},
        {"samples", 0, OPT_INT64, &samples, "N", "", 0, 1e15, 0},
        {"seed", 0, OPT_U64, &seed, "S", "", CLI_NO_RANGE, 0},
        {"tol", 0, OPT_DOUBLE, &tol, "T", "", 1e-300, 1, 0},
        {"lr", 0, OPT_DOUBLE, &lr, "LR", "", CLI_NO_RANGE, 0},
        {"output", 'o', OPT_STRING, &out, "FILE", "", CLI_NO_RANGE, 0},
        {"name", 'n', OPT_STRING, &name, "X", "", CLI_NO_RANGE, 0},
        {"model", 'm', OPT_STRING, &model, "FILE", "", CLI_NO_RANGE, 0}, /* an input (cli_input) */
        {"quiet", 'q', OPT_FLAG, &flag, NULL, "", CLI_NO_RANGE, 0},
        {"models", 0, OPT_LIST, &models, "M..", "", CLI_NO_RANGE, 0},
    };
    cli_command_doc doc = {"fuzz", "options", "[options] FILE...", NULL};
    char *positional[MAX_ARGS + 2];
    int npositional = 0;
    hesse_clear_error();
    int rc = (size && data[0] & 1)
                 ? cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]))
                 : cli_parse_positional(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]),
                                        positional, &npositional);
    if (rc == HESSE_OK) {
        FUZZ_ASSERT(top == -7 || (top >= 0 && top <= 100000));
        FUZZ_ASSERT(samples == -7 || (samples >= 0 && samples <= 1000000000000000LL));
        FUZZ_ASSERT(tol == -7 || (tol >= 1e-300 && tol <= 1));
        FUZZ_ASSERT(isfinite(lr));
        FUZZ_ASSERT(npositional >= 0 && npositional < argc);
        FUZZ_ASSERT(models.count == 0 || models.items != NULL);
        for (int i = 0; i < models.count; i++) FUZZ_ASSERT(models.items[i] != NULL);
        /* an output that passes the checks is not an input named the same */
        if (out && model && strcmp(out, model) == 0 && strcmp(out, "-") != 0)
            FUZZ_ASSERT(cli_check_output(out, "option --output") != HESSE_OK ||
                        access(out, F_OK) != 0);
    } else if (rc != 1) {
        FUZZ_CHECK_FAILURE(rc);
    }
    cli_finish(1); /* forget this run's inputs and outputs, as at the end of a command */
    cli_list_free(&models);

    hesse_preprocess pre;
    hesse_clear_error();
    rc = hesse_preprocess_parse(argv[1], argc > 2 ? argv[2] : "1", "--mean/--std", &pre);
    if (rc == HESSE_OK) {
        FUZZ_ASSERT(pre.channels >= 1 && pre.channels <= HESSE_MAX_CHANNELS);
        for (int ch = 0; ch < pre.channels; ch++)
            FUZZ_ASSERT(isfinite(pre.mean[ch]) && isfinite(pre.std[ch]) && pre.std[ch] > 0);
    } else {
        FUZZ_CHECK_FAILURE(rc);
    }
    free(text);
    return 0;
}
