import { readFileSync } from 'node:fs';

/** A TCP socket of the machine, as Linux lists it in /proc/net/tcp and /proc/net/tcp6. */
export interface TcpSocket {
  /** Its state, as the kernel writes it: '0A' is LISTEN, '01' ESTABLISHED. */
  readonly state: string;
  /** Bytes waiting to be read; for a listening socket, the connections waiting to be accepted. */
  readonly rxQueue: number;
  /** The socket's inode (a process's /proc/<pid>/fd links name it `socket:[inode]`). */
  readonly inode: string;
}

/**
 * The TCP sockets whose local port is `port` (IPv4 and IPv6), read from /proc/net/tcp{,6}; none where
 * those cannot be read (not Linux). Used at shutdown to find the connections that wait to be accepted
 * (plugins/lifecycle.ts) or handed to a worker (src/cluster.ts).
 */
export function tcpSocketsOn(port: number): TcpSocket[] {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const sockets: TcpSocket[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      // sl, local address, remote address, state, tx_queue:rx_queue, …, inode (the 10th).
      const f = line.trim().split(/\s+/);
      if (!f[1]?.endsWith(local)) continue;
      sockets.push({
        state: f[3] ?? '',
        rxQueue: Number.parseInt(f[4]?.split(':')[1] ?? '0', 16) || 0,
        inode: f[9] ?? '',
      });
    }
  }
  return sockets;
}
