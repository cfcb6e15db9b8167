/* SPDX-License-Identifier: BSD-3-Clause */
/* test_cluster.c - the Redis Cluster parsers: hash slots against known
 * vectors and hash tags, an election's keys in one slot, MOVED and ASK
 * redirections, and CLUSTER SLOTS replies of Redis 6 and 7 shapes; every
 * malformed form is refused, each by the rule that is there for it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "harness.h"
#include "io/lio_cluster.h"
#include "io/lio_proto.h"
#include "util/lu_sha1.h"

static unsigned slot(const char *key)
{
    return lio_cluster_key_slot(key, strlen(key));
}

/* The expected values come from an independent CRC16-CCITT (XMODEM)
 * implementation, not from this one. */
TEST(key_slots_match_known_vectors)
{
    ASSERT_EQ(slot("123456789"), 0x31C3); /* the CRC's check value */
    ASSERT_EQ(slot("foo"), 12182);
    ASSERT_EQ(slot("bar"), 5061);
    ASSERT_EQ(slot(""), 0);
    ASSERT_EQ(slot("a"), 15495);
    ASSERT_EQ(slot("\xff\xfe"), 3374); /* bytes above 0x7f, unsigned */
    /* The length is the key's, NUL bytes included. */
    ASSERT_EQ(lio_cluster_key_slot("a\0b", 3), 8383);
    for (unsigned i = 0; i < 2000; i++) {
        char key[32];
        snprintf(key, sizeof key, "key:%u", i);
        ASSERT_LT(slot(key), LIO_CLUSTER_SLOTS);
    }
}

TEST(hash_tags_pick_what_is_hashed)
{
    ASSERT_EQ(slot("{user1000}.following"), 3443);
    ASSERT_EQ(slot("{user1000}.following"), slot("user1000"));
    ASSERT_EQ(slot("{user1000}.followers"), slot("user1000"));
    /* An empty tag tags nothing: the whole key. */
    ASSERT_EQ(slot("foo{}{bar}"), 8363);
    ASSERT_EQ(slot("{}"), 15257);
    /* The first '{', then the first '}' after it. */
    ASSERT_EQ(slot("foo{{bar}}zap"), slot("{bar"));
    ASSERT_EQ(slot("foo{{bar}}zap"), 4015);
    ASSERT_EQ(slot("foo{bar}{zap}"), slot("bar"));
    ASSERT_EQ(slot("}{a}"), slot("a"));
    /* No closing brace: the whole key. */
    ASSERT_EQ(slot("{"), 4092);
    ASSERT_NE(slot("{bar"), slot("bar"));
    /* A tag ends at the key's length, not at a NUL. */
    ASSERT_EQ(lio_cluster_key_slot("{a\0b}", 5), 8383);
    ASSERT_EQ(lio_cluster_key_slot("{a}", 2), slot("{a"));
}

TEST(an_elections_keys_share_a_slot)
{
    static const char *names[] = {"default", "jobs", "a", "{x}", "}{"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct lio_names n;
        char hex[41], buf[LIO_KEY_MAX];
        const char *term;

        ASSERT_OK(lu_sha1_hex(names[i], strlen(names[i]), hex));
        lio_names_make(&n, hex);
        term = lio_term_key(&n, buf);
        ASSERT_EQ(term[0], '{');
        ASSERT_EQ(slot(term), slot(n.holder_key));
    }
}

/* ---- MOVED and ASK ---- */

static int redirect(const char *text, struct lio_cluster_redirect *out)
{
    return lio_cluster_redirect(text, strlen(text), out);
}

TEST(redirections)
{
    struct lio_cluster_redirect r;

    ASSERT_EQ(redirect("MOVED 3999 127.0.0.1:6381", &r), 1);
    ASSERT_EQ(r.ask, 0);
    ASSERT_EQ(r.slot, 3999);
    ASSERT_STR_EQ(r.to.host, "127.0.0.1");
    ASSERT_EQ(r.to.port, 6381);
    ASSERT_EQ(redirect("ASK 3999 127.0.0.1:6381", &r), 1);
    ASSERT_EQ(r.ask, 1);
    ASSERT_EQ(r.slot, 3999);
    ASSERT_STR_EQ(r.to.host, "127.0.0.1");
    ASSERT_EQ(r.to.port, 6381);
    ASSERT_EQ(redirect("MOVED 0 redis-1.example.com:1", &r), 1);
    ASSERT_EQ(r.slot, 0);
    ASSERT_STR_EQ(r.to.host, "redis-1.example.com");
    ASSERT_EQ(r.to.port, 1);
    ASSERT_EQ(redirect("ASK 16383 h:65535", &r), 1);
    ASSERT_EQ(r.slot, 16383);
    ASSERT_EQ(r.to.port, 65535);
}

TEST(redirections_to_unknown_and_ipv6_hosts)
{
    struct lio_cluster_redirect r;

    ASSERT_EQ(redirect("MOVED 3999 :6381", &r), 1);
    ASSERT_STR_EQ(r.to.host, "");
    ASSERT_EQ(r.to.port, 6381);
    memset(r.to.host, 'x', sizeof r.to.host);
    ASSERT_EQ(redirect("MOVED 3999 ?:6381", &r), 1);
    ASSERT_STR_EQ(r.to.host, "");
    ASSERT_EQ(redirect("MOVED 1 ::1:6381", &r), 1);
    ASSERT_STR_EQ(r.to.host, "::1");
    ASSERT_EQ(r.to.port, 6381);
    ASSERT_EQ(redirect("ASK 1 fe80::1:2:7000", &r), 1);
    ASSERT_STR_EQ(r.to.host, "fe80::1:2");
    ASSERT_EQ(r.to.port, 7000);
    /* "??" is a host like any other, not the unknown one. */
    ASSERT_EQ(redirect("MOVED 1 ??:6381", &r), 1);
    ASSERT_STR_EQ(r.to.host, "??");
}

TEST(hosts_up_to_the_limit)
{
    char text[LU_URL_HOST_MAX + 64], host[LU_URL_HOST_MAX + 2];
    struct lio_cluster_redirect r;

    memset(host, 'h', LU_URL_HOST_MAX);
    host[LU_URL_HOST_MAX] = '\0';
    snprintf(text, sizeof text, "MOVED 7 %s:7000", host);
    ASSERT_EQ(redirect(text, &r), 1);
    ASSERT_STR_EQ(r.to.host, host);
    host[LU_URL_HOST_MAX] = 'h';
    host[LU_URL_HOST_MAX + 1] = '\0';
    snprintf(text, sizeof text, "MOVED 7 %s:7000", host);
    ASSERT_EQ(redirect(text, &r), 0);
}

TEST(malformed_redirections_are_refused)
{
    static const char *bad[] = {
        "",
        "MOVED",
        "MOVED ",
        "MOVED 3999",
        "MOVED 3999 ",
        "MOVED 3999 127.0.0.1",
        "MOVED 3999 127.0.0.1:",
        "MOVED  3999 127.0.0.1:6381",
        "MOVED 3999  127.0.0.1:6381",
        "MOVED 16384 127.0.0.1:6381",
        "MOVED 99999 127.0.0.1:6381",
        "MOVED 100000 127.0.0.1:6381",
        "MOVED +3999 127.0.0.1:6381",
        "MOVED -1 127.0.0.1:6381",
        "MOVED 39a9 127.0.0.1:6381",
        "MOVED 0x10 127.0.0.1:6381",
        "MOVED  127.0.0.1:6381",
        "MOVED 3999 127.0.0.1:0",
        "MOVED 3999 127.0.0.1:65536",
        "MOVED 3999 127.0.0.1:100000",
        "MOVED 3999 127.0.0.1:+6381",
        "MOVED 3999 127.0.0.1:-6381",
        "MOVED 3999 127.0.0.1:6381 ",
        "MOVED 3999 127.0.0.1:6381 extra",
        "MOVED 3999 127.0.0.1:6381\r\n",
        "MOVED 3999 127.0.0.1:63x1",
        "MOVED 3999 a b:6381",
        "MOVED 3999 a\tb:6381",
        "MOVED 3999 a\x7f:6381",
        "MOVED 3999 a\x01:6381",
        "MOVEDX 3999 127.0.0.1:6381",
        "MOVED\t3999 127.0.0.1:6381",
        "moved 3999 127.0.0.1:6381",
        "ask 3999 127.0.0.1:6381",
        "ASKING 3999 127.0.0.1:6381",
        "ASKX 3999 127.0.0.1:6381",
        "ASK\t3999 127.0.0.1:6381",
        "MOVED 003999 127.0.0.1:6381",
        "MOVED 3999 127.0.0.1:006381",
        "MOVED 99999999999999999999999 127.0.0.1:6381",
        "ERR MOVED 3999 127.0.0.1:6381",
        " MOVED 3999 127.0.0.1:6381",
        "ASK",
        "ASK 1",
    };
    struct lio_cluster_redirect r, before;

    memset(&r, 0x5a, sizeof r);
    before = r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (redirect(bad[i], &r) != 0)
            FAIL("\"%s\" taken", bad[i]);
        /* Refused, and nothing of it written. */
        ASSERT_EQ(memcmp(&r, &before, sizeof r), 0);
    }
}

TEST(nul_bytes_in_a_redirection_are_refused)
{
    static const char in_host[] = "MOVED 1 a\0b:6381";
    static const char in_slot[] = "MOVED 1\0 a:6381";
    static const char in_port[] = "MOVED 1 a:63\0"
                                  "81";
    static const char at_end[] = "MOVED 1 a:6381\0";
    struct lio_cluster_redirect r;

    ASSERT_EQ(lio_cluster_redirect(in_host, sizeof in_host - 1, &r), 0);
    ASSERT_EQ(lio_cluster_redirect(in_slot, sizeof in_slot - 1, &r), 0);
    ASSERT_EQ(lio_cluster_redirect(in_port, sizeof in_port - 1, &r), 0);
    ASSERT_EQ(lio_cluster_redirect(at_end, sizeof at_end - 1, &r), 0);
    /* Only len bytes are read: the same text, cut before the NUL. */
    ASSERT_EQ(lio_cluster_redirect(at_end, sizeof at_end - 2, &r), 1);
    ASSERT_EQ(r.to.port, 6381);
    ASSERT_EQ(lio_cluster_redirect("MOVED 1 a:63819", 14, &r), 1);
    ASSERT_EQ(r.to.port, 6381);
}

/* ---- CLUSTER SLOTS ---- */

/* A reply parsed from RESP text of len bytes; the caller frees it. */
static redisReply *parse(const char *resp, size_t len)
{
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;

    ASSERT_NOT_NULL(reader);
    ASSERT_EQ(redisReaderFeed(reader, resp, len), REDIS_OK);
    ASSERT_EQ(redisReaderGetReply(reader, &reply), REDIS_OK);
    ASSERT_NOT_NULL(reply);
    redisReaderFree(reader);
    return reply;
}

#define RANGES_MAX 8

static struct lio_cluster_range ranges[RANGES_MAX];

static int slots_len(const char *resp, size_t len, size_t cap)
{
    redisReply *r = parse(resp, len);
    int n;

    ASSERT_LE(cap, RANGES_MAX);
    n = lio_cluster_slots(r, ranges, cap);
    freeReplyObject(r);
    return n;
}

static int slots(const char *resp)
{
    return slots_len(resp, strlen(resp), RANGES_MAX);
}

/* RESP text built piece by piece, so that lengths need no counting. */
static char resp[1 << 15];
static size_t resp_len;

static void put(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(resp + resp_len, sizeof resp - resp_len, fmt, ap);
    va_end(ap);
    ASSERT(n >= 0 && (size_t) n < sizeof resp - resp_len);
    resp_len += (size_t) n;
}

static void bulk(const char *s)
{
    put("$%zu\r\n%s\r\n", strlen(s), s);
}

static void node(const char *host, int port, const char *id)
{
    put("*%d\r\n", id != NULL ? 3 : 2);
    bulk(host);
    put(":%d\r\n", port);
    if (id != NULL)
        bulk(id);
}

#define ID_A "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
#define ID_B "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"
#define ID_C "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"

/* A range of one node "a" on port 7000; one range of slots 0..10 whose
 * master (or first replica) is the given node entry. */
#define NODE_A          "*2\r\n$1\r\na\r\n:7000\r\n"
#define ONE(start, end) "*3\r\n:" #start "\r\n:" #end "\r\n" NODE_A
#define RANGE_OF(node)  "*1\r\n*3\r\n:0\r\n:10\r\n" node
#define REPLICA(node)   "*1\r\n*4\r\n:0\r\n:10\r\n" NODE_A node

/* Redis 6: the node id follows the port; ranges in no particular order. */
TEST(slots_of_a_redis_6_cluster)
{
    resp_len = 0;
    put("*3\r\n");
    put("*4\r\n:5461\r\n:10922\r\n");
    node("127.0.0.1", 30002, ID_B);
    node("127.0.0.1", 30005, ID_C);
    put("*4\r\n:0\r\n:5460\r\n");
    node("127.0.0.1", 30001, ID_A);
    node("127.0.0.1", 30004, ID_C);
    put("*3\r\n:10923\r\n:16383\r\n");
    node("10.0.0.3", 30003, ID_C);
    ASSERT_EQ(slots_len(resp, resp_len, RANGES_MAX), 3);
    ASSERT_EQ(ranges[0].start, 5461);
    ASSERT_EQ(ranges[0].end, 10922);
    ASSERT_STR_EQ(ranges[0].master.host, "127.0.0.1");
    ASSERT_EQ(ranges[0].master.port, 30002);
    ASSERT_EQ(ranges[0].nreplicas, 1);
    ASSERT_EQ(ranges[0].replicas[0].port, 30005);
    ASSERT_EQ(ranges[1].start, 0);
    ASSERT_EQ(ranges[1].end, 5460);
    ASSERT_EQ(ranges[1].master.port, 30001);
    ASSERT_EQ(ranges[2].start, 10923);
    ASSERT_EQ(ranges[2].end, 16383);
    ASSERT_STR_EQ(ranges[2].master.host, "10.0.0.3");
    ASSERT_EQ(ranges[2].master.port, 30003);
    ASSERT_EQ(ranges[2].nreplicas, 0);
    /* The same without node ids (Redis 3). */
    ASSERT_EQ(slots("*1\r\n*3\r\n:0\r\n:16383\r\n"
                    "*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n"),
              1);
    ASSERT_EQ(ranges[0].master.port, 7000);
}

/* Redis 7 adds networking metadata after the node id: a map under RESP3,
 * an array of name, value pairs under RESP2. */
TEST(slots_of_a_redis_7_cluster)
{
    ASSERT_EQ(slots("*1\r\n*4\r\n:0\r\n:16383\r\n"
                    "*4\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n" ID_A "\r\n"
                    "%1\r\n$8\r\nhostname\r\n$6\r\nnode-a\r\n"
                    "*4\r\n$9\r\n127.0.0.1\r\n:7001\r\n$40\r\n" ID_B "\r\n"
                    "%0\r\n"),
              1);
    ASSERT_STR_EQ(ranges[0].master.host, "127.0.0.1");
    ASSERT_EQ(ranges[0].master.port, 7000);
    ASSERT_EQ(ranges[0].nreplicas, 1);
    ASSERT_EQ(ranges[0].replicas[0].port, 7001);
    ASSERT_EQ(slots("*1\r\n*3\r\n:0\r\n:16383\r\n"
                    "*4\r\n$6\r\nnode-a\r\n:7000\r\n$40\r\n" ID_A "\r\n"
                    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"),
              1);
    ASSERT_STR_EQ(ranges[0].master.host, "node-a");
    /* Whatever follows the port is not looked at, whatever its type. */
    ASSERT_EQ(slots("*1\r\n*3\r\n:0\r\n:16383\r\n"
                    "*5\r\n$1\r\na\r\n:7000\r\n:1\r\n_\r\n$-1\r\n"),
              1);
}

TEST(slots_with_unknown_hosts_and_edges)
{
    ASSERT_EQ(slots("*0\r\n"), 0); /* no slot assigned yet */
    ASSERT_EQ(slots("*3\r\n"
                    "*3\r\n:0\r\n:0\r\n*2\r\n$0\r\n\r\n:1\r\n"
                    "*3\r\n:16383\r\n:16383\r\n*2\r\n$1\r\n?\r\n:65535\r\n"
                    "*3\r\n:1\r\n:16382\r\n*2\r\n$3\r\n::1\r\n:7000\r\n"),
              3);
    ASSERT_EQ(ranges[0].start, 0);
    ASSERT_EQ(ranges[0].end, 0);
    ASSERT_STR_EQ(ranges[0].master.host, "");
    ASSERT_EQ(ranges[0].master.port, 1);
    ASSERT_EQ(ranges[1].start, 16383);
    ASSERT_STR_EQ(ranges[1].master.host, "");
    ASSERT_EQ(ranges[1].master.port, 65535);
    ASSERT_STR_EQ(ranges[2].master.host, "::1");
}

/* What Redis 7.0 sent with cluster-preferred-endpoint-type
 * unknown-endpoint: a nil host, the address living on in the metadata. */
TEST(slots_with_nil_hosts)
{
    ASSERT_EQ(slots("*2\r\n"
                    "*4\r\n:0\r\n:8191\r\n"
                    "*4\r\n$-1\r\n:27001\r\n$40\r\n" ID_A "\r\n"
                    "*4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
                    "$8\r\nhostname\r\n$14\r\nnode-a.example\r\n"
                    "*4\r\n$-1\r\n:27003\r\n$40\r\n" ID_C "\r\n"
                    "*4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
                    "$8\r\nhostname\r\n$14\r\nnode-c.example\r\n"
                    "*3\r\n:8192\r\n:16383\r\n"
                    "*4\r\n$-1\r\n:27002\r\n$40\r\n" ID_B "\r\n"
                    "*4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
                    "$8\r\nhostname\r\n$14\r\nnode-b.example\r\n"),
              2);
    ASSERT_STR_EQ(ranges[0].master.host, "");
    ASSERT_EQ(ranges[0].master.port, 27001);
    ASSERT_EQ(ranges[0].nreplicas, 1);
    ASSERT_STR_EQ(ranges[0].replicas[0].host, "");
    ASSERT_EQ(ranges[0].replicas[0].port, 27003);
    ASSERT_STR_EQ(ranges[1].master.host, "");
    ASSERT_EQ(ranges[1].master.port, 27002);
    /* RESP3's null, the same. */
    memset(ranges[0].master.host, 'x', sizeof ranges[0].master.host);
    ASSERT_EQ(slots(RANGE_OF("*2\r\n_\r\n:7000\r\n")), 1);
    ASSERT_STR_EQ(ranges[0].master.host, "");
}

TEST(replicas_past_the_limit_are_checked_then_dropped)
{
    char host[16];

    resp_len = 0;
    put("*1\r\n*%d\r\n:0\r\n:16383\r\n", 3 + LIO_CLUSTER_REPLICAS_MAX + 2);
    node("m", 7000, ID_A);
    for (int i = 0; i < LIO_CLUSTER_REPLICAS_MAX + 2; i++) {
        snprintf(host, sizeof host, "r%d", i);
        node(host, 7001 + i, NULL);
    }
    ASSERT_EQ(slots_len(resp, resp_len, 1), 1);
    ASSERT_EQ(ranges[0].nreplicas, LIO_CLUSTER_REPLICAS_MAX);
    for (int i = 0; i < LIO_CLUSTER_REPLICAS_MAX; i++) {
        snprintf(host, sizeof host, "r%d", i);
        ASSERT_STR_EQ(ranges[0].replicas[i].host, host);
        ASSERT_EQ(ranges[0].replicas[i].port, 7001 + i);
    }
    /* One more, broken: the whole reply is. */
    resp_len = 0;
    put("*1\r\n*%d\r\n:0\r\n:16383\r\n", 3 + LIO_CLUSTER_REPLICAS_MAX + 1);
    node("m", 7000, ID_A);
    for (int i = 0; i < LIO_CLUSTER_REPLICAS_MAX; i++)
        node("r", 7001, NULL);
    node("r", 0, NULL);
    ASSERT_EQ(slots_len(resp, resp_len, 1), -1);
}

TEST(the_room_for_ranges_is_respected)
{
    static const char two[] = "*2\r\n"
                              "*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:1\r\n"
                              "*3\r\n:2\r\n:3\r\n*2\r\n$1\r\na\r\n:1\r\n";

    ASSERT_EQ(slots_len(two, sizeof two - 1, 2), 2);
    ASSERT_EQ(slots_len(two, sizeof two - 1, 1), -1);
    ASSERT_EQ(slots_len("*0\r\n", 4, 0), 0);
}

/* Each is one rule broken in a reply that is otherwise good (the first
 * checks show it is). */
TEST(malformed_slots_replies_are_refused)
{
    static const char *bad[] = {
        /* the top */
        "$1\r\na\r\n",
        ":1\r\n",
        "-ERR This instance has cluster support disabled\r\n",
        "*-1\r\n",
        "_\r\n",
        "%1\r\n" ONE(0, 10) ONE(11, 20),
        "~1\r\n" ONE(0, 10),
        /* a range's shape */
        "*1\r\n:0\r\n",
        "*1\r\n$1\r\na\r\n",
        "*1\r\n*2\r\n:0\r\n:10\r\n",
        "*1\r\n*0\r\n",
        "*1\r\n%1\r\n:0\r\n:10\r\n",
        "*1\r\n%2\r\n:0\r\n:10\r\n" NODE_A NODE_A,
        /* start and end */
        "*1\r\n*3\r\n$1\r\n0\r\n:10\r\n" NODE_A,
        "*1\r\n*3\r\n:0\r\n$2\r\n10\r\n" NODE_A,
        "*1\r\n*3\r\n,0\r\n:10\r\n" NODE_A,
        "*1\r\n*3\r\n:0\r\n_\r\n" NODE_A,
        "*1\r\n*3\r\n:0\r\n#t\r\n" NODE_A,
        "*1\r\n" ONE(10, 0),
        "*1\r\n" ONE(0, 16384),
        "*1\r\n" ONE(16384, 16384),
        "*1\r\n" ONE(-1, 10),
        "*1\r\n" ONE(-2, -1),
        "*1\r\n" ONE(0, 4294967296),
        "*1\r\n" ONE(4294967296, 4294967296),
        /* overlaps, in either order */
        "*2\r\n" ONE(0, 10) ONE(10, 20),
        "*2\r\n" ONE(10, 20) ONE(0, 10),
        "*2\r\n" ONE(0, 100) ONE(50, 60),
        "*2\r\n" ONE(50, 60) ONE(0, 100),
        "*2\r\n" ONE(5, 5) ONE(5, 5),
        "*3\r\n" ONE(0, 1) ONE(16383, 16383) ONE(1, 2),
        /* the master's entry */
        RANGE_OF(":7000\r\n"),
        RANGE_OF("$1\r\na\r\n"),
        RANGE_OF("*1\r\n$1\r\na\r\n"),
        RANGE_OF("*0\r\n"),
        RANGE_OF("%1\r\n$1\r\na\r\n:7000\r\n"),
        RANGE_OF("*2\r\n:1\r\n:7000\r\n"),
        RANGE_OF("*2\r\n+a\r\n:7000\r\n"),
        RANGE_OF("*2\r\n=5\r\ntxt:a\r\n:7000\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n$4\r\n7000\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n+7000\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n,7000\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n(7000\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n#t\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n:0\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n:65536\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n:-7000\r\n"),
        RANGE_OF("*2\r\n$1\r\na\r\n:4294974296\r\n"),
        RANGE_OF("*2\r\n$3\r\na b\r\n:7000\r\n"),
        RANGE_OF("*2\r\n$3\r\na\tb\r\n:7000\r\n"),
        RANGE_OF("*2\r\n$2\r\na\x7f\r\n:7000\r\n"),
        RANGE_OF("*2\r\n$2\r\n?\n\r\n:7000\r\n"),
        /* a replica's entry, by the same rules */
        REPLICA(":7000\r\n"),
        REPLICA("*1\r\n$1\r\nb\r\n"),
        REPLICA("*2\r\n:1\r\n:7000\r\n"),
        REPLICA("*2\r\n$1\r\nb\r\n$4\r\n7000\r\n"),
        REPLICA("*2\r\n$1\r\nb\r\n:0\r\n"),
        REPLICA("*2\r\n$1\r\nb\r\n:65536\r\n"),
        REPLICA("*2\r\n$3\r\nb c\r\n:7000\r\n"),
        /* one bad range among good ones, last */
        "*3\r\n" ONE(0, 1)
            ONE(2, 3) "*3\r\n:4\r\n:5\r\n*2\r\n$1\r\na\r\n:0\r\n",
    };

    ASSERT_EQ(slots(RANGE_OF(NODE_A)), 1);
    ASSERT_EQ(slots(REPLICA(NODE_A)), 1);
    ASSERT_EQ(slots("*2\r\n" ONE(0, 9) ONE(10, 20)), 2);
    ASSERT_EQ(slots("*2\r\n" ONE(10, 20) ONE(0, 9)), 2);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (slots(bad[i]) != -1)
            FAIL("reply %zu taken", i);
}

TEST(hosts_in_slots_nul_and_length)
{
    static const char nul[] = RANGE_OF("*2\r\n$3\r\na\0b\r\n:7000\r\n");
    char host[LU_URL_HOST_MAX + 2];

    ASSERT_EQ(slots_len(nul, sizeof nul - 1, 1), -1);
    memset(host, 'h', LU_URL_HOST_MAX);
    host[LU_URL_HOST_MAX] = '\0';
    resp_len = 0;
    put("*1\r\n*3\r\n:0\r\n:10\r\n");
    node(host, 7000, NULL);
    ASSERT_EQ(slots_len(resp, resp_len, 1), 1);
    ASSERT_STR_EQ(ranges[0].master.host, host);
    host[LU_URL_HOST_MAX] = 'h';
    host[LU_URL_HOST_MAX + 1] = '\0';
    resp_len = 0;
    put("*1\r\n*3\r\n:0\r\n:10\r\n");
    node(host, 7000, NULL);
    ASSERT_EQ(slots_len(resp, resp_len, 1), -1);
}
