// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// A candidate of this binding and a node-leader candidate (the JavaScript
// reimplementation in bench/peers/node-leader.js, on the npm redis client)
// in the same election: one leader at a time, and each takes over when the
// other stops.
const test = require('node:test')
const assert = require('node:assert')
const { Child, benchModule, sleep } = require('./helpers/common')

// Both children's lines, merged in time order.
function timeline (children) {
  const all = []
  for (const [name, c] of Object.entries(children)) {
    for (const l of c.lines) all.push({ who: name, ...l })
  }
  return all.sort((x, y) => x.at - y.at)
}

// Never two leaders: an elected of one while the other is elected (not yet
// revoked) is a split brain. Checked on the children's event times; a
// leader told to stop counts as gone from then (node-leader emits REVOKED
// only after its DEL has gone through).
function assertOneLeader (children) {
  const leading = new Set()
  for (const e of timeline(children)) {
    if (/^elected/.test(e.line)) {
      assert.strictEqual(leading.size, 0,
        `${e.who} elected while ${[...leading]} leads`)
      leading.add(e.who)
    } else if (/^(revoked|stopping)/.test(e.line)) {
      leading.delete(e.who)
    }
  }
}

test('libleader and node-leader share one election', async (t) => {
  if (!benchModule('redis')) return t.skip('redis is not installed in bench/node_modules')
  const ttl = 3000
  const wait = 300
  const nl = new Child('node-leader', 'mixed', ttl, wait)
  const ll = new Child('libleader', 'mixed', ttl, wait)
  await nl.waitFor(/^ready /)
  await ll.waitFor(/^ready /)

  nl.send('elect')
  await nl.waitFor(/^elected/)
  ll.send('elect')
  // node-leader renews every ttl/2: across two renewals, libleader stays out.
  await sleep(ttl + 200)
  assert.ok(!ll.lines.some((l) => /^elected/.test(l.line)), 'libleader elected under node-leader')

  // node-leader stops (GET, then DEL; it publishes nothing): libleader
  // finds the key gone on its next try, within wait.
  let from = ll.lines.length
  const t0 = performance.now()
  nl.send('stop')
  const e1 = await ll.waitFor(/^elected /, wait + 2000, from)
  assert.ok(e1.at - t0 < wait + 500, `libleader took over in ${e1.at - t0} ms`)

  // node-leader campaigns again; libleader stops (the release script):
  // node-leader's next SET NX wins.
  from = nl.lines.length
  nl.send('elect')
  await sleep(2 * wait)
  assert.ok(!nl.lines.slice(from).some((l) => /^elected/.test(l.line)),
    'node-leader elected under libleader')
  const t1 = performance.now()
  ll.send('stop')
  const e2 = await nl.waitFor(/^elected/, wait + 2000, from)
  assert.ok(e2.at - t1 < wait + 500, `node-leader took over in ${e2.at - t1} ms`)

  ll.send('quit')
  nl.send('quit')
  assert.strictEqual((await ll.exited).code, 0)
  assert.strictEqual((await nl.exited).code, 0)
  assertOneLeader({ libleader: ll, 'node-leader': nl })
})
