/* SPDX-License-Identifier: BSD-3-Clause */
/* lio_scripts.h - the Lua scripts that make every write atomic (DESIGN.md
 * section 3). KEYS[1] is the holder key, KEYS[2] the term counter; the
 * notification channel is the holder key + ":events".
 *
 * Terms are integers from 1 to LEADER_TERM_MAX (leader.h), below 2^53, so
 * the doubles of Redis' Lua hold every one exactly and term + 1 is exact.
 * The scripts never do arithmetic on anything they have not checked to be
 * in that range: a floor or a counter outside it is refused with an error
 * reply (LEADERTERM ...), before anything is written. Renew and release
 * compare terms as strings, which is exact for any value. */
#ifndef LIO_SCRIPTS_H
#define LIO_SCRIPTS_H

/* LEADER_TERM_MAX as the scripts spell it (a unit test checks they agree). */
#define LIO_TERM_MAX "9000000000000000"

/* ARGV: id, ttl, floor. {1, term} when elected, else {0, holder, pttl,
 * counter} (the counter as GET reads it, nil if missing).
 *
 * The new term is one above the counter (INCR), raised above the floor if
 * it is not. A holder that already is this id gets a new term all the
 * same. A missing counter (a new election, or one whose counter Redis
 * lost) starts from the server's clock: the new term is one above the
 * larger of the floor and TIME in milliseconds since the Unix epoch, above
 * every term an older counter can have reached (docs/protocol.md, Safety,
 * says exactly when). TIME is not deterministic, so the script asks for
 * effects replication first: the default since Redis 5 and the only mode
 * since 7 (redis.replicate_commands() is a no-op there), needed on 3.2 and
 * 4; it comes before any write, as Redis requires. */
#define LIO_SCRIPT_ACQUIRE                                                     \
    "local max = " LIO_TERM_MAX "\n"                                           \
    "local function term(s)\n"                                                 \
    "  if s == '0' then return 0 end\n"                                        \
    "  if type(s) ~= 'string' or #s > 16 or\n"                                 \
    "     not string.find(s, '^[1-9]%d*$') then return nil end\n"              \
    "  local n = tonumber(s)\n"                                                \
    "  if n <= max then return n end\n"                                        \
    "end\n"                                                                    \
    "local h = redis.call('GET', KEYS[1])\n"                                   \
    "if h and h ~= ARGV[1] then\n"                                             \
    "  return {0, h, redis.call('PTTL', KEYS[1]), redis.call('GET', "          \
    "KEYS[2])}\n"                                                              \
    "end\n"                                                                    \
    "local floor = term(ARGV[3])\n"                                            \
    "if not floor or floor >= max then\n"                                      \
    "  return redis.error_reply('LEADERTERM the floor is not a term below "    \
    "' .. '" LIO_TERM_MAX "')\n"                                               \
    "end\n"                                                                    \
    "local c = redis.call('GET', KEYS[2])\n"                                   \
    "local t\n"                                                                \
    "if c then\n"                                                              \
    "  t = term(c)\n"                                                          \
    "  if not t or t >= max then\n"                                            \
    "    return redis.error_reply('LEADERTERM the term counter ' .. KEYS[2] "  \
    "..\n"                                                                     \
    "      ' is at " LIO_TERM_MAX " or holds no term')\n"                      \
    "  end\n"                                                                  \
    "else\n"                                                                   \
    "  if redis.replicate_commands then redis.replicate_commands() end\n"      \
    "  local now = redis.call('TIME')\n"                                       \
    "  t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)\n"    \
    "  if t >= max then\n"                                                     \
    "    return redis.error_reply('LEADERTERM the server clock is past "       \
    "the last term')\n"                                                        \
    "  end\n"                                                                  \
    "end\n"                                                                    \
    "local n = t + 1\n"                                                        \
    "if n <= floor then n = floor + 1 end\n"                                   \
    "if h then\n"                                                              \
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"                              \
    "else\n"                                                                   \
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"                   \
    "end\n"                                                                    \
    "if c and n == t + 1 then\n"                                               \
    "  redis.call('INCR', KEYS[2])\n"                                          \
    "else\n"                                                                   \
    "  redis.call('SET', KEYS[2], string.format('%d', n))\n"                   \
    "end\n"                                                                    \
    "redis.call('PUBLISH', KEYS[1] .. ':events',\n"                            \
    "  'elected ' .. string.format('%d', n) .. ' ' .. ARGV[1])\n"              \
    "return {1, n}\n"

/* ARGV: id, term, ttl. 1 if extended, 0 if the key is not this
 * leadership's any more. */
#define LIO_SCRIPT_RENEW                                                       \
    "if redis.call('GET', KEYS[1]) == ARGV[1] and\n"                           \
    "   redis.call('GET', KEYS[2]) == ARGV[2] then\n"                          \
    "  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"                              \
    "  return 1\n"                                                             \
    "end\n"                                                                    \
    "return 0\n"

/* ARGV: id, term. 1 if deleted, 0 if the key is not this leadership's. */
#define LIO_SCRIPT_RELEASE                                                     \
    "if redis.call('GET', KEYS[1]) == ARGV[1] and\n"                           \
    "   redis.call('GET', KEYS[2]) == ARGV[2] then\n"                          \
    "  redis.call('DEL', KEYS[1])\n"                                           \
    "  redis.call('PUBLISH', KEYS[1] .. ':events',\n"                          \
    "    'released ' .. ARGV[2] .. ' ' .. ARGV[1])\n"                          \
    "  return 1\n"                                                             \
    "end\n"                                                                    \
    "return 0\n"

/* No ARGV. {holder or nil, pttl, term or nil}: who leads, read at one
 * instant. */
#define LIO_SCRIPT_READ                                                        \
    "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]),\n"       \
    "        redis.call('GET', KEYS[2])}\n"

#endif
