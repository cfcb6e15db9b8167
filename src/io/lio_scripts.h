/* lio_scripts.h - the Lua scripts that make every write atomic (DESIGN.md
 * section 3). KEYS[1] is the holder key, KEYS[2] the term counter; the
 * notification channel is the holder key + ":events". */
#ifndef LIO_SCRIPTS_H
#define LIO_SCRIPTS_H

/* ARGV: id, ttl, floor. {1, term} when elected, else {0, holder, pttl,
 * term}.
 * A holder that already is this id gets a new term all the same. */
#define LIO_SCRIPT_ACQUIRE                                                     \
    "local h = redis.call('GET', KEYS[1])\n"                                   \
    "if h == ARGV[1] then\n"                                                   \
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"                              \
    "elseif h then\n"                                                          \
    "  return {0, h, redis.call('PTTL', KEYS[1]), redis.call('GET', "          \
    "KEYS[2])}\n"                                                              \
    "else\n"                                                                   \
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"                   \
    "end\n"                                                                    \
    "local t = redis.call('INCR', KEYS[2])\n"                                  \
    "local floor = tonumber(ARGV[3])\n"                                        \
    "if t <= floor then\n"                                                     \
    "  t = floor + 1\n"                                                        \
    "  redis.call('SET', KEYS[2], string.format('%d', t))\n"                   \
    "end\n"                                                                    \
    "redis.call('PUBLISH', KEYS[1] .. ':events',\n"                            \
    "  'elected ' .. string.format('%d', t) .. ' ' .. ARGV[1])\n"              \
    "return {1, t}\n"

/* ARGV: id, term, ttl. 1 if extended, 0 if the key is not this
 * leadership's any more. */
#define LIO_SCRIPT_RENEW                                                       \
    "if redis.call('GET', KEYS[1]) == ARGV[1] and\n"                           \
    "   tonumber(redis.call('GET', KEYS[2])) == tonumber(ARGV[2]) then\n"      \
    "  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"                              \
    "  return 1\n"                                                             \
    "end\n"                                                                    \
    "return 0\n"

/* ARGV: id, term. 1 if deleted, 0 if the key is not this leadership's. */
#define LIO_SCRIPT_RELEASE                                                     \
    "if redis.call('GET', KEYS[1]) == ARGV[1] and\n"                           \
    "   tonumber(redis.call('GET', KEYS[2])) == tonumber(ARGV[2]) then\n"      \
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
