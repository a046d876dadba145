/**
 * CPU time of processes read from /proc (Linux): a server's whole process tree (tsx starts node
 * as a child, so the parent's own counter misses the process that does the work) and single
 * processes that are not ours (redis-server, the PostgreSQL backends of the provider's pool).
 */
import { execFileSync } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()

interface Stat { pid: number, ppid: number, ticks: number }

/** utime + stime (fields 14 and 15) and the parent pid (field 4) of one process, or undefined when it is gone. */
async function stat (pid: number): Promise<Stat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  if (text === '') return undefined
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { pid, ppid: Number(fields[1]), ticks: Number(fields[11] ?? 0) + Number(fields[12] ?? 0) }
}

/** CPU milliseconds (user + system, every thread) of the given processes so far. */
export async function processesCpuMs (pids: readonly number[]): Promise<number> {
  let ticks = 0
  for (const pid of pids) ticks += (await stat(pid))?.ticks ?? 0
  return ticks * 1000 / ticksPerSecond
}

/** `root` and every live descendant of it. */
export async function processTree (root: number): Promise<number[]> {
  const all: Stat[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const entry = await stat(Number(name))
    if (entry !== undefined) all.push(entry)
  }
  const tree = [root]
  for (let i = 0; i < tree.length; i++) {
    for (const entry of all) if (entry.ppid === tree[i]) tree.push(entry.pid)
  }
  return tree
}

/**
 * CPU milliseconds of `root`'s whole tree so far. The tree is listed once, after start (the
 * server spawns nothing later): a scan of /proc per reading would cost more than some readings.
 */
export async function treeCpuReader (root: number): Promise<() => Promise<number>> {
  const pids = await processTree(root)
  return async () => await processesCpuMs(pids)
}
