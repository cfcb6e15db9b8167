/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_url.c - the URL parser and the redaction of URLs for messages. A
 * parsed URL must be well-formed; a redacted one must not keep a password
 * and must fit its buffer. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "leader.h"
#include "util/lu_url.h"

static void check_parsed(const struct lu_url *u)
{
    if (u->kind == LU_URL_TCP &&
        (u->host[0] == '\0' || u->port < 1 || u->port > 65535))
        fuzz_fail("TCP URL without host or with a bad port");
    if (u->kind == LU_URL_UNIX && u->path[0] != '/')
        fuzz_fail("unix URL with a relative path");
    if (u->db < 0)
        fuzz_fail("negative database");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    char err[128], out[64];
    struct lu_url u;
    int rc;

    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    rc = lu_url_parse(url, &u, err, sizeof err);
    if (rc == 0)
        check_parsed(&u);
    else if (rc != LEADER_EURL)
        fuzz_fail("parse error with an unexpected code");
    else if (memchr(err, '\0', sizeof err) == NULL || err[0] == '\0')
        fuzz_fail("parse error without a reason");
    lu_url_redact(url, out, sizeof out);
    if (memchr(out, '\0', sizeof out) == NULL)
        fuzz_fail("redacted URL not terminated");
    if (rc == 0 && u.has_password && strlen(url) < sizeof out - 8 &&
        strstr(out, ":***@") == NULL)
        fuzz_fail("redaction kept the password");
    free(url);
    return 0;
}
