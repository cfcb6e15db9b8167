// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// What the binding adds to node-leader's API: observe() and 'changed'
// events, term (the fencing token) on 'elected' and as a property,
// hasLease(), leaseRemaining, current(), newTerm(), REVOKED's reason.
const test = require('node:test')
const assert = require('node:assert')
const { URL, Leader, once } = require('./helpers/common')

test('an observer sees who leads, and each change', async () => {
  const obs = new Leader(URL, { key: 'obs', ttl: 5000, wait: 200 })
  const cand = new Leader(URL, { key: 'obs', ttl: 5000, wait: 200 })
  const seen = []
  obs.on(Leader.event.CHANGED, (c) => seen.push(c))

  let changed = once(obs, Leader.event.CHANGED)
  obs.observe()
  let [c] = await changed
  assert.strictEqual(c.id, null)
  assert.strictEqual(obs.holder, null)

  changed = once(obs, Leader.event.CHANGED)
  const elected = once(cand, Leader.event.ELECTED)
  cand.elect()
  const [term] = await elected
  ;[c] = await changed
  assert.strictEqual(c.id, cand.id)
  assert.strictEqual(c.term, term)
  assert.strictEqual(c.reason, 'elected')
  assert.deepStrictEqual(obs.holder, { id: cand.id, term })
  assert.strictEqual(obs.elected, false)
  assert.strictEqual(obs.hasLease(), false)

  changed = once(obs, Leader.event.CHANGED)
  await cand.stop()
  ;[c] = await changed
  assert.strictEqual(c.id, null)
  assert.strictEqual(c.reason, 'released')
  await obs.stop()
  await obs.close()
  await cand.close()
  assert.ok(seen.length >= 3)
})

test('term on elected and as a property; hasLease; leaseRemaining; current()', async () => {
  const l = new Leader(URL, { key: 'term', ttl: 3000, wait: 200 })
  assert.strictEqual(await l.current(), null)
  const elected = once(l, Leader.event.ELECTED)
  l.elect()
  const [term] = await elected
  assert.ok(Number.isSafeInteger(term) && term > 0)
  assert.strictEqual(l.term, term)
  assert.strictEqual(l.elected, true)
  assert.strictEqual(l.hasLease(), true)
  assert.ok(l.leaseRemaining > 0 && l.leaseRemaining <= 3000, String(l.leaseRemaining))
  const cur = await l.current()
  assert.strictEqual(cur.id, l.id)
  assert.strictEqual(cur.term, term)
  assert.ok(cur.leaseLeft > 0 && cur.leaseLeft <= 3000)

  // A new term within the leadership: REVOKED (reason null), ELECTED.
  const revoked = once(l, Leader.event.REVOKED)
  const again = once(l, Leader.event.ELECTED)
  l.newTerm()
  const [oldTerm, reason] = await revoked
  const [newTerm] = await again
  assert.strictEqual(oldTerm, term)
  assert.strictEqual(reason, null)
  assert.ok(newTerm > term)
  assert.strictEqual(l.term, newTerm)

  await l.stop()
  assert.strictEqual(l.term, 0)
  assert.strictEqual(l.hasLease(), false)
  assert.strictEqual(l.elected, false)
  await l.close()
})

test('REVOKED carries the cause when leadership is lost', async () => {
  const l = new Leader(URL, { key: 'lost', ttl: 2000, wait: 100 })
  const elected = once(l, Leader.event.ELECTED)
  l.elect()
  await elected
  // The application reports itself unhealthy: the leader steps down.
  const revoked = once(l, Leader.event.REVOKED, 5000)
  l.setHealthy(false)
  const [, reason] = await revoked
  assert.strictEqual(reason.code, 'LEADER_EUNHEALTHY')
  assert.ok(reason instanceof Error)
  assert.strictEqual(reason.term > 0, true)
  await l.close()
})

test('ERROR events reach an error listener; without one nothing throws', async () => {
  // Nothing listens on port 1.
  const quiet = new Leader('redis://127.0.0.1:1', { key: 'err', ttl: 1000, wait: 100 })
  quiet.elect()
  const loud = new Leader('redis://127.0.0.1:1', { key: 'err', ttl: 1000, wait: 100 })
  const err = once(loud, Leader.event.ERROR)
  loud.elect()
  const [e] = await err
  assert.ok(e instanceof Error)
  assert.strictEqual(e.code, 'LEADER_ECONN')
  await quiet.close()
  await loud.close()
})
