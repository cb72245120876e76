// The loopback embedding server in its own process, so its CPU (JSON encoding of every answer) is
// not charged to the client under test. Control over IPC: 'reset' clears the counters, 'stats'
// reports requests, inputs and peak concurrency.
import { EmbeddingTestServer } from '../../__test__/embed/server.js'

const latencyMs = Number(process.argv[2] ?? 100)
const dims = Number(process.argv[3] ?? 256)
const server = await EmbeddingTestServer.start({ latencyMs, dims, apiKey: 'bench-key' })
// Ends with its parent, whatever happens to the parent.
process.on('disconnect', () => process.exit(0))

process.on('message', (msg: { cmd: string; texts?: string[] }) => {
  if (msg.cmd === 'prime') {
    // Encode every vector of the workload once, so no contender pays for a cold server.
    for (const t of msg.texts ?? []) (server as unknown as { encode(t: string, d: number): unknown }).encode(t, dims)
    process.send?.({ cmd: 'prime' })
  } else if (msg.cmd === 'reset') {
    server.requests.length = 0
    server.maxInFlight = 0
    process.send?.({ cmd: 'reset' })
  } else if (msg.cmd === 'stats') {
    const reqs = server.embedRequests
    process.send?.({
      cmd: 'stats',
      requests: reqs.length,
      inputs: reqs.reduce((s, r) => s + r.inputs.length, 0),
      maxInFlight: server.maxInFlight,
      formats: [...new Set(reqs.map((r) => String(r.body?.encoding_format)))],
    })
  } else if (msg.cmd === 'close') {
    void server.close().then(() => process.exit(0))
  }
})
process.send?.({ cmd: 'ready', url: server.url })
