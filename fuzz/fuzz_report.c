/* The JSON documents `hesse report` reads (io/report*.c): any JSON at all, and result
 * documents of every schema with missing, mistyped, huge, empty or non-finite values. A
 * report either renders or names the file; what it renders never carries markup from the
 * document (strings are escaped: no script or image element can come from the input).
 *
 * Input: one document; when it holds a line "\n--\n", the text after it is a second one. */
#include "fuzz.h"

#include <ctype.h>
#include <string.h>

/* Case-insensitive search for a tag opening, e.g. "<script". */
static int has_tag(const char *html, const char *tag) {
    size_t n = strlen(tag);
    for (const char *p = html; *p; p++) {
        if (*p != '<') continue;
        size_t i = 0;
        while (i < n && p[1 + i] && tolower((unsigned char)p[1 + i]) == tag[i]) i++;
        if (i == n) return 1;
    }
    return 0;
}

static const uint8_t *find_sep(const uint8_t *data, size_t size) {
    static const char sep[] = "\n--\n";
    for (size_t i = 0; i + 4 <= size; i++)
        if (memcmp(data + i, sep, 4) == 0) return data + i;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    const uint8_t *sep = find_sep(data, size);
    size_t first = sep ? (size_t)(sep - data) : size;
    char paths[2][512];
    const char *list[2] = {paths[0], paths[1]};
    snprintf(paths[0], sizeof paths[0], "%s", fuzz_write_file("a.json", data, first));
    int count = 1;
    if (sep) {
        snprintf(paths[1], sizeof paths[1], "%s",
                 fuzz_write_file("b.json", sep + 4, size - first - 4));
        count = 2;
    }
    char *html = NULL;
    hesse_clear_error();
    int rc = hesse_report_files(list, count, (size && data[0] == '{') ? "fuzz <b>report</b>" : NULL,
                                &html);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        FUZZ_ASSERT(html == NULL);
        return 0;
    }
    FUZZ_ASSERT(html != NULL);
    FUZZ_ASSERT(!has_tag(html, "script") && !has_tag(html, "img") && !has_tag(html, "iframe") &&
                !has_tag(html, "b>report"));
    free(html);
    return 0;
}
