// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// node-leader's README scenario, on this binding: a Leader from a redis
// client, its id and key, elect(), ELECTED, isLeader() (promise and
// callback), stop() and REVOKED.
const test = require('node:test')
const assert = require('node:assert')
const crypto = require('crypto')
const { URL, Leader, benchModule, once } = require('./helpers/common')

const sha1 = (s) => crypto.createHash('sha1').update(s).digest('hex')

// The README's `require('redis').createClient()`, pointed at the fixture;
// the URL itself where the redis package is not installed.
function client () {
  const redis = benchModule('redis')
  return redis ? redis.createClient({ url: URL }) : URL
}

test('the README scenario: elected, isLeader, stop, revoked', async () => {
  const options = { key: 'some_key', ttl: 20000, wait: 2000 }
  const candidate1 = new Leader(client(), options)
  assert.match(candidate1.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.strictEqual(candidate1.key, 'leader:' + sha1('some_key'))

  let isLeader
  const elected = new Promise((resolve, reject) => {
    candidate1.on(Leader.event.ELECTED, async () => {
      try {
        isLeader = await candidate1.isLeader()
        resolve()
      } catch (err) {
        reject(err)
      }
    })
  })
  const revoked = once(candidate1, Leader.event.REVOKED)
  candidate1.elect()
  await elected
  assert.strictEqual(isLeader, true)
  assert.strictEqual(candidate1.hasLease(), true)
  assert.ok(candidate1.term > 0)
  await candidate1.stop()
  const [term, reason] = await revoked
  assert.ok(term > 0)
  assert.strictEqual(reason, null)
  assert.strictEqual(await candidate1.isLeader(), false)
  assert.strictEqual(candidate1.hasLease(), false)
  await candidate1.close()
})

test('defaults and the names of the events', () => {
  const l = new Leader(URL)
  assert.strictEqual(l.key, 'leader:' + sha1('default'))
  assert.deepStrictEqual(l.options, { ttl: 10000, wait: 1000 })
  assert.strictEqual(Leader.event.ELECTED, 'elected')
  assert.strictEqual(Leader.event.REVOKED, 'revoked')
  assert.strictEqual(Leader.event.ERROR, 'error')
  assert.strictEqual(Leader.EVENT_TYPE, Leader.event)
  assert.strictEqual(Leader.Leader, Leader)
  assert.strictEqual(l.term, 0)
  assert.strictEqual(l.hasLease(), false)
})

test('isLeader(callback) is called with (null, boolean)', async () => {
  const a = new Leader(URL, { key: 'seed-cb', ttl: 5000, wait: 200 })
  const b = new Leader(URL, { key: 'seed-cb', ttl: 5000, wait: 200 })
  const elected = once(a, Leader.event.ELECTED)
  a.elect()
  await elected
  const ask = (l) => new Promise((resolve, reject) =>
    assert.strictEqual(l.isLeader((err, v) => err ? reject(err) : resolve(v)), undefined))
  assert.strictEqual(await ask(a), true)
  assert.strictEqual(await ask(b), false)
  await a.close()
  await b.close()
})

test('isLeader() of a closed Leader rejects with LEADER_ESTATE', async () => {
  const l = new Leader(URL, { key: 'seed-closed' })
  await l.close()
  await assert.rejects(l.isLeader(), { code: 'LEADER_ESTATE' })
  const err = await new Promise((resolve) => l.isLeader((e) => resolve(e)))
  assert.strictEqual(err.code, 'LEADER_ESTATE')
})

test('an ioredis client object gives the address', async (t) => {
  const Redis = benchModule('ioredis')
  if (!Redis) return t.skip('ioredis is not installed in bench/node_modules')
  const client = new Redis(URL, { lazyConnect: true })
  const l = new Leader(client, { key: 'seed-ioredis', ttl: 3000, wait: 200 })
  const elected = once(l, Leader.event.ELECTED)
  l.elect()
  await elected
  assert.strictEqual(await l.isLeader(), true)
  await l.close()
  client.disconnect()
})
