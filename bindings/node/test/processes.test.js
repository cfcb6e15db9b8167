// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// Candidates in processes of their own (helpers/candidate.js): a clean
// handover between two, and a failover after kill -9 of the leader.
const test = require('node:test')
const assert = require('node:assert')
const { Child } = require('./helpers/common')

async function start (impl, key, ttl, wait) {
  const c = new Child(impl, key, ttl, wait)
  await c.waitFor(/^ready /)
  return c
}

const termOf = (entry) => Number(entry.line.split(' ')[1])

test('two processes hand over on stop(), without waiting for wait', async () => {
  // wait is 5 s: a handover far below it comes from the release
  // notification, not from the follower's next try.
  const a = await start('libleader', 'proc-handover', 10000, 5000)
  const b = await start('libleader', 'proc-handover', 10000, 5000)
  a.send('elect')
  const ea = await a.waitFor(/^elected /)
  b.send('elect')
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.ok(!b.lines.some((l) => /^elected /.test(l.line)), 'b elected while a leads')

  const t0 = performance.now()
  a.send('stop')
  const ra = await a.waitFor(/^revoked$/)
  const eb = await b.waitFor(/^elected /, 3000)
  assert.ok(eb.at >= ra.at, 'b elected before a was revoked')
  assert.ok(eb.at - t0 < 1000, `handover took ${eb.at - t0} ms`)
  assert.ok(termOf(eb) > termOf(ea), 'terms grow')

  // And back: a campaigns again, b quits (stops, then exits by itself).
  a.send('elect')
  const from = a.lines.length
  b.send('quit')
  const ea2 = await a.waitFor(/^elected /, 3000, from)
  assert.ok(termOf(ea2) > termOf(eb))
  assert.deepStrictEqual(await b.exited, { code: 0, signal: null })
  a.send('quit')
  assert.deepStrictEqual(await a.exited, { code: 0, signal: null })
})

test('kill -9 of the leader: the other takes over within ttl + margin', async () => {
  const ttl = 1500
  const wait = 300
  const a = await start('libleader', 'proc-failover', ttl, wait)
  const b = await start('libleader', 'proc-failover', ttl, wait)
  a.send('elect')
  const ea = await a.waitFor(/^elected /)
  b.send('elect')
  await new Promise((resolve) => setTimeout(resolve, 200))
  const t0 = performance.now()
  a.kill('SIGKILL')
  assert.strictEqual((await a.exited).signal, 'SIGKILL')
  const eb = await b.waitFor(/^elected /, ttl + 2000)
  const took = eb.at - t0
  assert.ok(took < ttl + 500, `failover took ${took} ms`)
  assert.ok(termOf(eb) > termOf(ea))
  b.send('quit')
  assert.deepStrictEqual(await b.exited, { code: 0, signal: null })
})
