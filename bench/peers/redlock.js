// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// bench/peers/redlock.js - the npm package redlock (node-redlock, on ioredis from
// bench/node_modules) acquiring and releasing one uncontended resource on servers that are
// already running, for the side by side with libleader's quorum mode (bench-failover
// --quorum-acquire, which starts the servers and runs this with their ports). It starts
// nothing itself.
//
// usage: node redlock.js ROUNDS TTL_MS PORT [PORT...]   (servers on 127.0.0.1)
//
// Each round: acquire([resource], TTL_MS) with retryCount 0, then release(). Prints one line
// of key=value fields (times in ms, median and p95 over the rounds):
//   node-redlock version=V servers=N rounds=R failed=F acquire=MED/P95 release=MED/P95
//   cycle=MED/P95 cmds=C
// cycle is a round's acquire plus its release; cmds is what Redis ran per round, summed over
// the servers (INFO commandstats; a script's own call and each redis.call in it count).
// Exit status: 2 on bad usage, 1 if a server cannot be reached.

const fs = require('fs')
const path = require('path')
const Redis = require('ioredis')
const Redlock = require('redlock').default

const USAGE = 'usage: node redlock.js ROUNDS TTL_MS PORT [PORT...]'

function fail (status, message) {
  process.stderr.write(`redlock.js: ${message}\n`)
  process.exit(status)
}

function parseArgs (argv) {
  const [rounds, ttl, ...ports] = argv
  if (ports.length === 0) fail(2, USAGE)
  for (const v of [rounds, ttl, ...ports]) {
    if (!/^[1-9][0-9]*$/.test(v)) fail(2, `bad argument ${v}\n${USAGE}`)
  }
  return { rounds: Number(rounds), ttl: Number(ttl), ports: ports.map(Number) }
}

// A client that gives up at once: the servers are local and already up, so a failure to
// connect is a broken setup, not something to wait out.
async function connect (port) {
  const client = new Redis({
    host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null
  })
  let firstError
  client.on('error', (err) => { firstError = firstError || err })
  await client.connect().catch((err) => { throw firstError || err }) // say why, not just 'closed'
  return client
}

// Calls of every command the servers ran so far. Only the 'calls' field: each line also
// has rejected_calls and failed_calls, which are not commands of their own.
async function commandsRun (clients) {
  let calls = 0
  for (const client of clients) {
    const info = await client.info('commandstats')
    for (const m of info.matchAll(/^cmdstat_[^:]+:calls=([0-9]+)/gm)) calls += Number(m[1])
  }
  return calls
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const ms = (t0, t1) => Number(t1 - t0) / 1e6

// The same ranks as bench-failover's: the sample at n/2, and at ceil(0.95 n).
function medianP95 (samples) {
  const s = [...samples].sort((a, b) => a - b)
  const n = s.length
  return `${s[Math.floor(n / 2)].toFixed(3)}/${s[Math.floor((n * 95 + 99) / 100) - 1].toFixed(3)}`
}

// The package's own version. Its package.json is not among its exports, so look for it
// above the file require() loads.
function redlockVersion () {
  for (let dir = path.dirname(require.resolve('redlock')); dir !== path.dirname(dir);
    dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json')
    if (!fs.existsSync(file)) continue
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
    // npm reads its 'v5.0.0-beta.2' as 5.0.0-beta.2; show it as npm does.
    if (pkg.name === 'redlock') return pkg.version.replace(/^v/, '')
  }
  return '?'
}

// redlock resolves an acquire or release as soon as a majority has answered; the other
// servers' answers come later. Waiting for them (stats: one promise per attempt) keeps a
// round from queueing behind the last one's, and lets the count below see every command.
async function allAnswered (result) {
  await Promise.all(result.attempts)
}

async function main () {
  const { rounds, ttl, ports } = parseArgs(process.argv.slice(2))
  let clients, counters
  try {
    clients = await Promise.all(ports.map(connect))
    counters = await Promise.all(ports.map(connect))
  } catch (err) {
    fail(1, `cannot reach the servers on ports ${ports.join(' ')}: ${err.message}`)
  }
  // retryCount 0: an uncontended acquire needs no retry, and a failed one is counted, not
  // hidden behind retryDelay.
  const redlock = new Redlock(clients, { retryCount: 0 })
  const resource = 'libleader-bench:redlock'

  // The first acquire and release on each server miss the script cache (NOSCRIPT, then
  // EVAL): once, like a connection's opening, so not counted.
  await allAnswered(await (await redlock.acquire([resource], ttl)).release())

  // The counting's own commands: its INFOs, measured rather than assumed.
  const base = await commandsRun(counters)
  const overhead = (await commandsRun(counters)) - base
  const acquire = []
  const release = []
  const cycle = []
  let failed = 0
  const before = await commandsRun(counters)
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint()
    let lock
    try {
      lock = await redlock.acquire([resource], ttl)
    } catch (err) {
      failed++
      await sleep(ttl) // whatever a failed attempt left behind expires
      continue
    }
    const t1 = process.hrtime.bigint()
    await allAnswered(lock)
    await sleep(1) // as the work a lock is taken for would
    const t2 = process.hrtime.bigint()
    const released = await lock.release()
    const t3 = process.hrtime.bigint()
    await allAnswered(released)
    await sleep(1)
    acquire.push(ms(t0, t1))
    release.push(ms(t2, t3))
    cycle.push(ms(t0, t1) + ms(t2, t3))
  }
  const cmds = ((await commandsRun(counters)) - before - overhead) / rounds
  if (acquire.length === 0) fail(1, 'every acquire failed')
  console.log(`node-redlock version=${redlockVersion()} servers=${ports.length} rounds=${rounds} ` +
    `failed=${failed} acquire=${medianP95(acquire)} release=${medianP95(release)} ` +
    `cycle=${medianP95(cycle)} cmds=${cmds.toFixed(2)}`)
  await Promise.all([...clients, ...counters].map((c) => c.quit()))
}

main().catch((err) => fail(1, err.stack || String(err)))
