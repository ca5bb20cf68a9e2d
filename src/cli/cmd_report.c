/* hesse report: one self-contained HTML page from result documents. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The option values of hesse report; files (room for argc) holds the operands. */
typedef struct {
    const char *out, *title;
    int quiet;
    char **files;
    int nfiles;
} report_args;

static int parse_report(report_args *a, int argc, char **argv) {
    cli_opt opts[] = {
        {"output", 'o', OPT_STRING, &a->out, "FILE", "the HTML file to write (default stdout)",
         CLI_NO_RANGE, 0},
        {"title", 0, OPT_STRING, &a->title, "T", "the page title (default \"hesse report\")",
         CLI_NO_RANGE, 0},
        {"quiet", 'q', OPT_FLAG, &a->quiet, NULL, "no notes on stderr", CLI_NO_RANGE, 0},
    };
    cli_command_doc doc = {
        "report", "one self-contained HTML page from result documents",
        "FILE.json... [-o report.html] [--title T]",
        "Every FILE is a JSON document written by a hesse command (train --json, or -o of eval, "
        "dense, spectrum, density, trace, bench, powerlaw, classes, samples, kronecker); each "
        "becomes a section with tables and plots re-drawn from its arrays, in the order given. "
        "Documents of other schemas get a table of their values. The page has inline CSS and "
        "SVG only: no scripts, no external assets. Hover over a number for its JSON path and "
        "exact value. See docs/report.md."};
    return cli_parse_positional(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]),
                                a->files, &a->nfiles);
}

/* At least one document, none of them an output, and the output staged. */
static int validate(const report_args *a) {
    if (a->nfiles == 0)
        return hesse_error(HESSE_EINVAL, "no result files given (usage: hesse report FILE.json... "
                                         "-o report.html)");
    int rc = HESSE_OK;
    for (int i = 0; i < a->nfiles && rc == HESSE_OK; i++) rc = cli_input(a->files[i], "input file");
    if (rc == HESSE_OK) rc = cli_check_output(a->out, "option --output");
    return rc;
}

/* The page to -o FILE (with a note), or to standard output. */
static int emit(const report_args *a, const char *html) {
    size_t len = strlen(html);
    if (!a->out || strcmp(a->out, "-") == 0) return cli_stdout(html, len);
    int rc = hesse_write_file_atomic(a->out, html, len);
    if (rc == HESSE_OK)
        cli_note("report: %d document%s -> %s (%.0f KB)", a->nfiles, a->nfiles == 1 ? "" : "s",
                 a->out, (double)len / 1024.0);
    return rc;
}

int cmd_report(int argc, char **argv) {
    report_args a = {NULL, NULL, 0, NULL, 0};
    a.files = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *a.files);
    if (!a.files) return cli_fail("report", hesse_error(HESSE_ENOMEM, "out of memory"));
    int rc = parse_report(&a, argc, argv);
    if (rc == 1) {
        free(a.files);
        return 0;
    }
    char *html = NULL;
    if (rc != HESSE_OK) goto cleanup;
    cli_quiet = a.quiet;
    HESSE_CHECK(validate(&a));
    HESSE_CHECK(hesse_report_files((const char *const *)a.files, a.nfiles, a.title, &html));
    rc = emit(&a, html);
cleanup:
    free(html);
    free(a.files);
    return rc == HESSE_OK ? 0 : cli_fail("report", rc);
}
