// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// bench/node/handover.js - the Node.js binding's handover next to
// node-leader's (bench/peers/node-leader.js on the npm redis client from
// bench/node_modules), on the same Redis: from the moment the leader's
// stop() is called to the other candidate's ELECTED listener, two
// candidates in one process taking turns. Run through the Redis fixture:
//
//   build/tests/redis-fixture -- node bench/node/handover.js [ROUNDS [TTL_MS WAIT_MS]]
const path = require('path')

const root = path.resolve(__dirname, '..', '..')
const url = process.env.REDIS_URL
const rounds = Number(process.argv[2] || 200)
const ttl = Number(process.argv[3] || 2000)
const wait = Number(process.argv[4] || 200)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function elected (leader, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no handover')), ms)
    leader.once('elected', () => {
      clearTimeout(timer)
      resolve(performance.now())
    })
  })
}

// Takes turns: the leader stops at a random moment within one wait (so
// that a follower that polls is caught at every phase of its polling), the
// other is elected, the old leader campaigns again as the follower.
async function measure (pair) {
  const first = elected(pair[0])
  pair[0].elect()
  await first
  pair[1].elect()
  await sleep(200)
  const samples = []
  let leader = 0
  for (let i = 0; i < rounds; i++) {
    const other = 1 - leader
    await sleep(Math.random() * wait)
    const got = elected(pair[other])
    const t0 = performance.now()
    await pair[leader].stop()
    samples.push((await got) - t0)
    pair[leader].elect()
    await sleep(20)
    leader = other
  }
  for (const l of pair) await l.stop()
  return samples
}

function summary (name, samples) {
  const s = [...samples].sort((a, b) => a - b)
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return `${name.padEnd(28)} ${String(s.length).padStart(5)} ` +
    `${q(0.5).toFixed(2).padStart(9)} ${q(0.9).toFixed(2).padStart(9)} ` +
    `${s[s.length - 1].toFixed(2).padStart(9)}`
}

async function main () {
  const Leader = require(path.join(root, 'bindings', 'node'))
  const key = 'bench-node'
  const lines = []
  lines.push(`handover, ${rounds} rounds, ttl ${ttl} ms, wait ${wait} ms; ms from stop() to the other's ELECTED`)
  lines.push(`${'candidate'.padEnd(28)} ${'runs'.padStart(5)} ${'median'.padStart(9)} ${'p90'.padStart(9)} ${'max'.padStart(9)}`)
  const ours = await measure([0, 1].map(() => new Leader(url, { key, ttl, wait })))
  lines.push(summary('libleader (Node binding)', ours))

  let redis = null
  try {
    redis = require(path.join(root, 'bench', 'node_modules', 'redis'))
  } catch (err) {
    lines.push('node-leader: skipped, no redis package in bench/node_modules (npm ci --prefix bench)')
  }
  if (redis) {
    const NodeLeader = require(path.join(root, 'bench', 'peers', 'node-leader.js'))
    const client = redis.createClient({ url })
    await client.connect()
    const theirs = await measure([0, 1].map(() =>
      new NodeLeader(client, { key: key + '-node-leader', ttl, wait })))
    lines.push(summary('node-leader', theirs))
    await client.quit()
  }
  console.log(lines.join('\n'))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
