// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// Peer process for the libleader benchmarks: runs Node.js leader-election candidates
// (node-leader or safe-redis-leader) that a driver commands over a line protocol.
//
// usage: node host.js IMPL URL TTL_MS WAIT_MS KEY [KEY...]
//        node host.js IMPL URL TTL_MS WAIT_MS --range PREFIX N
//   IMPL is node-leader or safe-redis-leader; one candidate per KEY, numbered 0, 1, ... in
//   argument order (a repeated KEY = several candidates of one election); --range names N
//   keys PREFIX-0 .. PREFIX-(N-1), more than a command line holds. All candidates share one
//   Redis client.
// stdin, one command a line: 'elect I', 'elect-all', 'stop I', 'quit' (or EOF: exit at once,
//   stopping nothing).
// stdout, one line each: 'ready', 'elected I NS', 'revoked I NS', 'stopping I NS' (as stop()
//   is called), 'stopped I NS' (once it has settled),
//   'error I MESSAGE'; NS is process.hrtime.bigint() (CLOCK_MONOTONIC, in ns).
// Exit status: 2 on bad usage, 1 if Redis cannot be reached at start.

const fs = require('fs')
const readline = require('readline')

const USAGE = 'usage: node host.js node-leader|safe-redis-leader URL TTL_MS WAIT_MS ' +
  '(KEY [KEY...] | --range PREFIX N)'

// One synchronous write per line, so lines are never interleaved or held back.
function out (line) {
  const buf = Buffer.from(line + '\n')
  for (let off = 0; off < buf.length;) {
    try {
      off += fs.writeSync(1, buf, off)
    } catch (err) {
      if (err.code === 'EAGAIN') continue
      process.exit(0) // EPIPE: the driver is gone
    }
  }
}

const oneLine = (err) => String((err && err.message) || err).replace(/\s+/g, ' ').trim()

function fail (status, message) {
  process.stderr.write(`host.js: ${message}\n`)
  process.exit(status)
}

// Connection trouble goes to stderr, once per change of message (reconnects repeat it).
let lastRedisError
function logRedisError (err) {
  const message = oneLine(err)
  if (message !== lastRedisError) process.stderr.write(`host.js: redis: ${message}\n`)
  lastRedisError = message
}

function parseArgs (argv) {
  const [impl, url, ttl, wait, ...args] = argv
  let keys = args
  if (args[0] === '--range') {
    if (args.length !== 3 || !/^[1-9][0-9]*$/.test(args[2])) fail(2, USAGE)
    keys = Array.from({ length: Number(args[2]) }, (_, i) => `${args[1]}-${i}`)
  }
  if (keys.length === 0) fail(2, USAGE)
  if (impl !== 'node-leader' && impl !== 'safe-redis-leader') fail(2, `bad IMPL ${impl}\n${USAGE}`)
  for (const [name, v] of [['TTL_MS', ttl], ['WAIT_MS', wait]]) {
    if (!/^[1-9][0-9]*$/.test(v)) fail(2, `bad ${name} ${v}\n${USAGE}`)
  }
  return { impl, url, ttl: Number(ttl), wait: Number(wait), keys }
}

// Each returns a list of candidates { elect(), stop() } (promises), calling on(i, event, err).
async function nodeLeaderCandidates ({ url, ttl, wait, keys }, on) {
  const { createClient } = require('redis')
  const Leader = require('./node-leader')
  let ready = false
  const client = createClient({
    url,
    // At start, give up at the first failure; later, reconnect as usual.
    socket: { reconnectStrategy: (retries, cause) => ready ? Math.min(retries * 50, 500) : cause }
  })
  client.on('error', (err) => { if (ready) logRedisError(err) })
  await client.connect()
  ready = true
  return keys.map((key, i) => {
    const leader = new Leader(client, { key, ttl, wait })
    leader.on(Leader.event.ELECTED, () => on(i, 'elected'))
    leader.on(Leader.event.REVOKED, () => on(i, 'revoked'))
    leader.on(Leader.event.ERROR, (err) => on(i, 'error', err))
    return leader
  })
}

async function safeRedisLeaderCandidates ({ url, ttl, wait, keys }, on) {
  const Redis = require('ioredis')
  const { createSafeRedisLeader } = require('safe-redis-leader')
  let ready = false
  let firstError
  const redis = new Redis(url, { lazyConnect: true })
  redis.on('error', (err) => {
    if (ready) logRedisError(err)
    else firstError = firstError || err
  })
  await redis.connect().catch((err) => { throw firstError || err }) // say why, not just 'closed'
  ready = true
  await warmUp(redis)
  return Promise.all(keys.map(async (key, i) => {
    const leader = await createSafeRedisLeader({ asyncRedis: redis, ttl, wait, key })
    leader.on('elected', () => on(i, 'elected'))
    leader.on('demoted', () => on(i, 'revoked'))
    leader.on('error', (err) => on(i, 'error', err))
    return leader
  }))
}

// safe-redis-leader defines its two Lua commands on the client lazily: every renew or stop
// made before the first one has finished reads the script file and defines the command anew.
// With thousands of candidates on one client, that first renew round is slow enough for most
// leases to expire (10,000 candidates at ttl 2000 ms: nearly all demoted), which one candidate
// per client never sees. So define both once, up front, with calls that change nothing
// (their key does not exist).
async function warmUp (redis) {
  const lib = 'safe-redis-leader/src/src/'
  const { atomicGetIsEqualSetPExpire } = require(lib + 'atomicGetIsEqualSetPExpire')
  const { atomicGetIsEqualDelete } = require(lib + 'atomicGetIsEqualDelete')
  const key = 'libleader-bench:warm-up'
  await atomicGetIsEqualSetPExpire({ asyncRedis: redis, key, id: 'none', ms: 1 })
  await atomicGetIsEqualDelete({ asyncRedis: redis, key, id: 'none' })
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const on = (i, what, err) => {
    const ns = process.hrtime.bigint() // first thing: the driver compares with its own clock
    out(what === 'error' ? `error ${i} ${oneLine(err)}` : `${what} ${i} ${ns}`)
  }
  let candidates
  try {
    const make = args.impl === 'node-leader' ? nodeLeaderCandidates : safeRedisLeaderCandidates
    candidates = await make(args, on)
  } catch (err) {
    fail(1, `cannot reach Redis at ${args.url}: ${oneLine(err)}`)
  }

  const elect = (i) => candidates[i].elect().catch((err) => on(i, 'error', err))
  const stop = (i) => { on(i, 'stopping'); return stopNow(i) }
  const stopNow = (i) => candidates[i].stop()
    .catch((err) => on(i, 'error', err))
    .then(() => on(i, 'stopped'))

  const input = readline.createInterface({ input: process.stdin, terminal: false })
  input.on('close', () => process.exit(0))
  input.on('line', (line) => {
    const [cmd, arg, extra] = line.trim().split(/\s+/)
    const i = /^[0-9]+$/.test(arg) ? Number(arg) : -1
    const indexed = extra === undefined && i >= 0 && i < candidates.length
    if (cmd === 'quit' && arg === undefined) process.exit(0)
    else if (cmd === 'elect-all' && arg === undefined) candidates.forEach((c, i) => elect(i))
    else if (cmd === 'elect' && indexed) elect(i)
    else if (cmd === 'stop' && indexed) stop(i)
    else if (cmd !== '') process.stderr.write(`host.js: bad command: ${line}\n`)
  })
  out('ready')
}

main()
