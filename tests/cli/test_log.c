/* SPDX-License-Identifier: BSD-3-Clause */
/* test_log.c - `leader run --log-format json`: every line of the log is
 * one JSON object with the documented fields, strings are escaped (a key
 * with quotes, a backslash and a tab), and the events of a leadership come
 * in order. The objects are read with a small parser of flat JSON objects
 * written here, which refuses anything else. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "harness.h"
#include "redis_fixture.h"

#define MAX_FIELDS 16

/* One flat object: names and values (strings unescaped; numbers and null
 * as their text; is_str tells strings apart). */
struct jobj {
    int n;
    char name[MAX_FIELDS][32];
    char value[MAX_FIELDS][1100];
    int is_str[MAX_FIELDS];
};

static const char *skip_ws(const char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

/* A JSON string at p into out; the position after it, or NULL. */
static const char *parse_string(const char *p, char *out, size_t cap)
{
    size_t n = 0;

    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        unsigned char ch = (unsigned char) *p++;
        if (ch == '\0' || ch < 0x20 || n + 1 >= cap)
            return NULL; /* control characters must be escaped */
        if (ch == '\\') {
            char e = *p++;
            if (e == '"' || e == '\\' || e == '/')
                ch = (unsigned char) e;
            else if (e == 'n')
                ch = '\n';
            else if (e == 't')
                ch = '\t';
            else if (e == 'u' && isxdigit((unsigned char) p[0]) &&
                     isxdigit((unsigned char) p[1]) &&
                     isxdigit((unsigned char) p[2]) &&
                     isxdigit((unsigned char) p[3])) {
                char hex[5] = {p[0], p[1], p[2], p[3], 0};
                long v = strtol(hex, NULL, 16);
                if (v > 0x7f)
                    return NULL; /* never produced for our text */
                ch = (unsigned char) v;
                p += 4;
            } else
                return NULL;
        }
        out[n++] = (char) ch;
    }
    out[n] = '\0';
    return p + 1;
}

/* 0 if line is exactly one flat object. */
static int parse_object(const char *line, struct jobj *o)
{
    const char *p = skip_ws(line);

    memset(o, 0, sizeof *o);
    if (*p++ != '{')
        return -1;
    for (;;) {
        int i = o->n;
        if (i == MAX_FIELDS)
            return -1;
        p = parse_string(skip_ws(p), o->name[i], sizeof o->name[i]);
        if (p == NULL || *(p = skip_ws(p)) != ':')
            return -1;
        p = skip_ws(p + 1);
        if (*p == '"') {
            p = parse_string(p, o->value[i], sizeof o->value[i]);
            if (p == NULL)
                return -1;
            o->is_str[i] = 1;
        } else if (strncmp(p, "null", 4) == 0) {
            strcpy(o->value[i], "null");
            p += 4;
        } else if (isdigit((unsigned char) *p) || *p == '-') {
            size_t k = 0;
            while ((isdigit((unsigned char) *p) || *p == '-') && k < 30)
                o->value[i][k++] = *p++;
            o->value[i][k] = '\0';
        } else {
            return -1;
        }
        o->n++;
        p = skip_ws(p);
        if (*p == '}')
            return *skip_ws(p + 1) == '\0' ? 0 : -1;
        if (*p++ != ',')
            return -1;
    }
}

static const char *field(const struct jobj *o, const char *name, int *is_str)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->name[i], name) == 0) {
            if (is_str != NULL)
                *is_str = o->is_str[i];
            return o->value[i];
        }
    return NULL;
}

TEST(parser_refuses_what_is_not_a_flat_object)
{
    struct jobj o;

    ASSERT_OK(parse_object("{\"a\":\"x\\ty\",\"b\":12,\"c\":null}", &o));
    ASSERT_STR_EQ(field(&o, "a", NULL), "x\ty");
    ASSERT_NE(parse_object("{\"a\":\"x\ty\"}", &o), 0); /* raw tab */
    ASSERT_NE(parse_object("{\"a\":\"x\"", &o), 0);
    ASSERT_NE(parse_object("{\"a\":\"x\"} tail", &o), 0);
    ASSERT_NE(parse_object("a text line", &o), 0);
    ASSERT_NE(parse_object("{\"a\":\"\\q\"}", &o), 0);
}

TEST(json_log_lines_are_objects_with_every_field_in_order)
{
    static const char *const fields[] = {"time", "level", "event", "key", "id",
                                         "pid",  "term",  "cause", "msg"};
    static const char *const order[] = {"campaigning",   "elected",
                                        "child_started", "child_exited",
                                        "released",      "exiting"};
    static const char key[] = "odd \"key\" with \\ and\ttab";
    rfx_server *s = cli_start_redis(0, NULL);
    char out[320], *log, *line, *save = NULL;
    size_t next = 0, lines = 0;
    uint64_t term = 0;
    cli_tmp t;
    pid_t a;

    cli_tmp_init(&t);
    cli_path(&t, "a.log", out, sizeof out);
    {
        const char *argv[] = {
            LEADER_BIN, "run",    "--redis", rfx_url(s), "--key",        key,
            "--id",     "json-a", "--ttl",   "1s",       "--log-format", "json",
            "-v",       "--",     "sh",      "-c",       "sleep 0.5",    NULL};
        a = cli_spawn(argv, out, NULL);
    }
    ASSERT_EQ(cli_wait(a, 10000), 0);
    log = cli_read_file(out);
    for (line = strtok_r(log, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        struct jobj o;
        const char *ev, *v;
        int is_str = 0;

        if (parse_object(line, &o) != 0)
            FAIL("not one JSON object: %s", line);
        lines++;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            ASSERT_NOT_NULL(field(&o, fields[i], NULL));
        ASSERT_STR_EQ(field(&o, "key", NULL), key);
        ASSERT_STR_EQ(field(&o, "id", NULL), "json-a");
        ASSERT_EQ(atoi(field(&o, "pid", NULL)), a);
        v = field(&o, "level", NULL);
        ASSERT(strcmp(v, "info") == 0 || strcmp(v, "debug") == 0);
        ev = field(&o, "event", &is_str);
        ASSERT(is_str);
        v = field(&o, "term", &is_str);
        ASSERT(!is_str);
        if (strcmp(ev, "elected") == 0)
            term = strtoull(v, NULL, 10);
        if (strcmp(ev, "campaigning") == 0 || strcmp(ev, "exiting") == 0)
            ASSERT_STR_EQ(v, "null");
        else if (term != 0)
            ASSERT_EQ(strtoull(v, NULL, 10), term);
        if (next < sizeof order / sizeof order[0] &&
            strcmp(ev, order[next]) == 0)
            next++;
    }
    ASSERT_EQ(next, sizeof order / sizeof order[0]);
    ASSERT_GE(lines, next);
    ASSERT_GT(term, 0);
    free(log);
    cli_tmp_free(&t);
    rfx_free(s);
}

TEST(json_errors_are_level_error)
{
    char out[320], *log;
    struct jobj o;
    cli_tmp t;
    pid_t a;

    cli_tmp_init(&t);
    cli_path(&t, "a.log", out, sizeof out);
    {
        /* Nothing listens on port 1: errors, and --timeout ends it. */
        const char *argv[] = {LEADER_BIN,
                              "run",
                              "--redis",
                              "redis://127.0.0.1:1",
                              "--timeout",
                              "300ms",
                              "--log-format",
                              "json",
                              "--",
                              "true",
                              NULL};
        a = cli_spawn(argv, out, NULL);
    }
    ASSERT_EQ(cli_wait(a, 10000), 75);
    log = cli_read_file(out);
    ASSERT_NOT_NULL(strstr(log, "\"level\":\"error\""));
    ASSERT_NOT_NULL(strstr(log, "\"event\":\"gave_up\""));
    for (char *save = NULL, *line = strtok_r(log, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
        if (parse_object(line, &o) != 0)
            FAIL("not one JSON object: %s", line);
    free(log);
    cli_tmp_free(&t);
}
