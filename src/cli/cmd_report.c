/* hesse report: one self-contained HTML page from result documents. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_report(int argc, char **argv) {
    const char *out = NULL, *title = NULL;
    int quiet = 0;
    cli_opt opts[] = {
        {"output", 'o', OPT_STRING, &out, "FILE", "the HTML file to write (default stdout)",
         CLI_NO_RANGE, 0},
        {"title", 0, OPT_STRING, &title, "T", "the page title (default \"hesse report\")",
         CLI_NO_RANGE, 0},
        {"quiet", 'q', OPT_FLAG, &quiet, NULL, "no notes on stderr", CLI_NO_RANGE, 0},
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
    char **files = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *files);
    if (!files) return cli_fail("report", hesse_error(HESSE_ENOMEM, "out of memory"));
    int nfiles = 0;
    int rc = cli_parse_positional(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]),
                                  files, &nfiles);
    if (rc == 1) {
        free(files);
        return 0;
    }
    char *html = NULL;
    if (rc != HESSE_OK) goto cleanup;
    cli_quiet = quiet;
    if (nfiles == 0) {
        rc = hesse_error(HESSE_EINVAL, "no result files given (usage: hesse report FILE.json... -o "
                                       "report.html)");
        goto cleanup;
    }
    for (int i = 0; i < nfiles; i++) HESSE_CHECK(cli_input(files[i], "input file"));
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(hesse_report_files((const char *const *)files, nfiles, title, &html));
    size_t len = strlen(html);
    if (out && strcmp(out, "-") != 0) {
        HESSE_CHECK(hesse_write_file_atomic(out, html, len));
        cli_note("report: %d document%s -> %s (%.0f KB)", nfiles, nfiles == 1 ? "" : "s", out,
                 (double)len / 1024.0);
    } else {
        rc = cli_stdout(html, len);
    }
cleanup:
    free(html);
    free(files);
    return rc == HESSE_OK ? 0 : cli_fail("report", rc);
}
