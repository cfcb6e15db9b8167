/* SPDX-License-Identifier: BSD-3-Clause */
/* lc_errors.c - descriptions of the LEADER_E... codes. Lives with the core
 * so the core can word its messages without the rest of the library. */
#include "leader.h"

const char *leader_strerror(int code)
{
    switch (code) {
    case LEADER_OK:
        return "success";
    case LEADER_EINVAL:
        return "invalid argument";
    case LEADER_ENOMEM:
        return "out of memory";
    case LEADER_EURL:
        return "malformed Redis URL";
    case LEADER_ENOTSUP:
        return "not supported by this build";
    case LEADER_ECONN:
        return "cannot reach Redis";
    case LEADER_ETIMEDOUT:
        return "Redis did not answer in time";
    case LEADER_EAUTH:
        return "Redis refused the credentials or a permission (ACL)";
    case LEADER_EWRONGTYPE:
        return "the election key holds a value of the wrong type";
    case LEADER_EREADONLY:
        return "the Redis server is a read-only replica";
    case LEADER_EPROTO:
        return "unexpected reply from Redis";
    case LEADER_EREDIS:
        return "Redis returned an error";
    case LEADER_ESTATE:
        return "not allowed in this state";
    case LEADER_ELOST:
        return "leadership lost to another candidate";
    case LEADER_ELEASE:
        return "lease expired without a confirmed renewal";
    case LEADER_ETERM:
        return "the term counter is at its maximum or holds no valid term";
    case LEADER_ETLS:
        return "TLS failed (certificate, host name or handshake)";
    case LEADER_EUNHEALTHY:
        return "the application reported itself unhealthy";
    default:
        return "unknown error";
    }
}
