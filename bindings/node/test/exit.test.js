// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// No handle or listener is left behind: a program that stops its Leader
// exits by itself, soon, with nothing else to do.
const test = require('node:test')
const assert = require('node:assert')
const { spawn } = require('child_process')
const path = require('path')
const { src } = require('./helpers/common')

// Runs body (JavaScript, with Leader, URL and once() in scope) in a node
// process of its own; resolves with its exit and how long it took.
function run (body, limitMs = 5000, flags = []) {
  const prelude = `'use strict'
const Leader = require(${JSON.stringify(path.join(src, 'bindings', 'node'))})
const URL = process.env.REDIS_URL
const once = (e, n) => new Promise((resolve) => e.once(n, (...a) => resolve(a)))
`
  return new Promise((resolve) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [...flags, '-e', prelude + body],
      { stdio: ['ignore', 'inherit', 'inherit'] })
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, ms: performance.now() - t0 })
    })
  })
}

async function exitsByItself (body, flags) {
  const r = await run(body, 5000, flags)
  assert.strictEqual(r.signal, null, `still running after 5 s (killed): ${body}`)
  assert.strictEqual(r.code, 0)
}

test('elect, elected, stop: the process exits', () => exitsByItself(`
  const l = new Leader(URL, { key: 'exit-elect', ttl: 10000, wait: 1000 })
  l.on(Leader.event.ELECTED, () => l.stop())
  l.elect()
`))

test('elect, elected, await isLeader(), stop without awaiting', () => exitsByItself(`
  const l = new Leader(URL, { key: 'exit-query', ttl: 10000 })
  l.on(Leader.event.ELECTED, async () => {
    if (!(await l.isLeader())) process.exit(3)
    l.stop()
  })
  l.elect()
`))

test('a follower that stops: the process exits', () => exitsByItself(`
  ;(async () => {
    const a = new Leader(URL, { key: 'exit-follower' })
    const b = new Leader(URL, { key: 'exit-follower' })
    a.elect()
    await once(a, 'elected')
    b.elect()
    await new Promise((resolve) => setTimeout(resolve, 100))
    await b.stop()
    await a.stop()
  })()
`))

test('observe, changed, stop: the process exits', () => exitsByItself(`
  const l = new Leader(URL, { key: 'exit-observe' })
  l.on(Leader.event.CHANGED, () => l.stop())
  l.observe()
`))

test('a Leader never started does not hold the process', () => exitsByItself(`
  const l = new Leader(URL, { key: 'exit-idle' })
  l.isLeader().then((v) => { if (v) process.exit(3) })
`))

test('close() from inside the elected listener', () => exitsByItself(`
  const l = new Leader(URL, { key: 'exit-close' })
  l.on(Leader.event.ELECTED, () => { l.close() })
  l.elect()
`))

test('a campaigning Leader keeps the process alive', async () => {
  const r = await run(`
    const l = new Leader(URL, { key: 'exit-alive' })
    l.elect()
  `, 1500)
  assert.strictEqual(r.signal, 'SIGKILL')
})

test('fifty Leaders in turn, each elected and stopped: the process exits', () => exitsByItself(`
  ;(async () => {
    for (let i = 0; i < 50; i++) {
      const l = new Leader(URL, { key: 'exit-gc-' + i, ttl: 1000, wait: 100 })
      l.elect()
      await once(l, 'elected')
      await l.stop()
    }
  })()
`))

test('a garbage collection between new Leader() and elect() loses no event', () => exitsByItself(`
  const l = new Leader(URL, { key: 'exit-gc' })
  l.on(Leader.event.ELECTED, () => l.stop())
  global.gc()
  setTimeout(() => { global.gc(); l.elect() }, 10)
`, ['--expose-gc']))
