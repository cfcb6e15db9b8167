// SPDX-License-Identifier: BSD-3-Clause
'use strict'
// A candidate in a process of its own, for the tests of bindings/node:
//
//   node candidate.js IMPL URL KEY TTL_MS WAIT_MS
//
// IMPL is libleader (this binding) or node-leader (bench/peers/node-leader.js
// on the npm redis client from bench/node_modules). Reads commands on stdin,
// one a line: elect, stop, quit (stop, then exit by itself), exit (exit at
// once). Writes one line per event: "ready ID", "elected TERM", "revoked",
// "stopping" (stop() called), "stopped" (its promise resolved), "error
// MESSAGE".
const path = require('path')
const readline = require('readline')

const [impl, url, key, ttl, wait] = process.argv.slice(2)
const src = path.resolve(__dirname, '..', '..', '..', '..')
const out = (line) => process.stdout.write(line + '\n')

async function make () {
  const options = { key, ttl: Number(ttl), wait: Number(wait) }
  if (impl === 'libleader') {
    const Leader = require(path.join(src, 'bindings', 'node'))
    return { Leader, leader: new Leader(url, options), client: null }
  }
  if (impl === 'node-leader') {
    const { createClient } = require(path.join(src, 'bench', 'node_modules', 'redis'))
    const Leader = require(path.join(src, 'bench', 'peers', 'node-leader.js'))
    const client = createClient({ url })
    client.on('error', (err) => out(`error ${err.message}`))
    await client.connect()
    return { Leader, leader: new Leader(client, options), client }
  }
  throw new Error(`unknown IMPL ${impl}`)
}

async function main () {
  const { Leader, leader, client } = await make()
  leader.on(Leader.event.ELECTED, (term) => out(`elected ${term === undefined ? 0 : term}`))
  leader.on(Leader.event.REVOKED, () => out('revoked'))
  leader.on(Leader.event.ERROR, (err) => out(`error ${err.message}`))
  out(`ready ${leader.id}`)
  const rl = readline.createInterface({ input: process.stdin })
  for await (const line of rl) {
    const cmd = line.trim()
    if (cmd === 'elect') {
      leader.elect()
    } else if (cmd === 'stop' || cmd === 'quit') {
      out('stopping')
      await leader.stop()
      out('stopped')
      if (cmd === 'quit') break
    } else if (cmd === 'exit') {
      process.exit(0)
    }
  }
  rl.close()
  if (client) await client.quit()
  // Nothing else: the process must now exit by itself.
}

main().catch((err) => {
  process.stderr.write(`candidate.js: ${err.stack}\n`)
  process.exit(1)
})
