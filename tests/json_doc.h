/* Documents written by hand in the tests (test_report.c, test_schema.c): JSON with ' for ",
 * to keep them readable inside C strings. */
#ifndef HESSE_TESTS_JSON_DOC_H
#define HESSE_TESTS_JSON_DOC_H

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parsed document (NULL, said on stderr, when it does not parse). */
static inline cJSON *doc(const char *text) {
    char *t = strdup(text);
    if (!t) return NULL;
    for (char *p = t; *p; p++)
        if (*p == '\'') *p = '"';
    cJSON *d = cJSON_Parse(t);
    if (!d) fprintf(stderr, "test document does not parse: %.80s\n", text);
    free(t);
    return d;
}

#endif
