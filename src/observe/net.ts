// Socket tables of /proc/PID/net (the network namespace of process PID):
// tcp, tcp6, udp, udp6 and unix, indexed by socket inode so that a descriptor
// whose link reads `socket:[N]` can be decoded. See proc(5), /proc/net.

import * as fs from 'node:fs';
import { SocketAddress } from 'node:net';
import { endianness } from 'node:os';
import type { InetSocketInfo, SocketInfo, TcpState, UnixSocketInfo } from '../observe.js';

/** Kernel socket states, include/net/tcp_states.h (also used by UDP: 01 connected, 07 unconnected). */
const TCP_STATES: Record<number, TcpState> = {
  0x01: 'ESTABLISHED',
  0x02: 'SYN_SENT',
  0x03: 'SYN_RECV',
  0x04: 'FIN_WAIT1',
  0x05: 'FIN_WAIT2',
  0x06: 'TIME_WAIT',
  0x07: 'CLOSE',
  0x08: 'CLOSE_WAIT',
  0x09: 'LAST_ACK',
  0x0a: 'LISTEN',
  0x0b: 'CLOSING',
  0x0c: 'NEW_SYN_RECV',
  0x0d: 'BOUND_INACTIVE',
};

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Addresses in /proc/net/{tcp,udp}{,6} are the in-memory (network-order) bytes
 * of the address printed as host-order 32-bit words with %08X: on a
 * little-endian machine 127.0.0.1 appears as 0100007F. Returns the bytes in
 * network order.
 */
function addressBytes(hex: string): Buffer {
  const bytes = Buffer.alloc(hex.length / 2);
  for (let i = 0; i < hex.length; i += 8) {
    const word = parseInt(hex.slice(i, i + 8), 16);
    if (LITTLE_ENDIAN) bytes.writeUInt32LE(word, i / 2);
    else bytes.writeUInt32BE(word, i / 2);
  }
  return bytes;
}

/** Decodes `0100007F` (IPv4) or a 32-digit IPv6 word dump to its text form (`127.0.0.1`, `::1`, `::ffff:10.0.0.1`). */
export function decodeAddress(hex: string): string {
  const bytes = addressBytes(hex);
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Let Node (inet_ntop) produce the canonical RFC 5952 form.
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** Parses one of /proc/PID/net/{tcp,tcp6,udp,udp6} into `out`, keyed by socket inode. */
export function parseInetTable(
  text: string,
  family: 'inet' | 'inet6',
  protocol: 'tcp' | 'udp',
  out: Map<number, SocketInfo>,
): void {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 10) continue;
    const inode = Number(f[9]);
    if (!inode) continue; // 0: TIME_WAIT and other sockets no longer owned by a file
    const [localHex, localPort] = f[1]!.split(':');
    const [remoteHex, remotePort] = f[2]!.split(':');
    const code = parseInt(f[3]!, 16);
    const info: InetSocketInfo = {
      family,
      protocol,
      localAddress: decodeAddress(localHex!),
      localPort: parseInt(localPort!, 16),
      remoteAddress: decodeAddress(remoteHex!),
      remotePort: parseInt(remotePort!, 16),
      state: TCP_STATES[code] ?? 'UNKNOWN',
    };
    if (protocol === 'tcp' && info.state === 'LISTEN') {
      info.acceptQueue = { length: parseInt(f[4]!.split(':')[1]!, 16) };
    }
    out.set(inode, info);
  }
}

const UNIX_TYPES: Record<number, UnixSocketInfo['protocol']> = { 1: 'stream', 2: 'dgram', 5: 'seqpacket' };
const UNIX_STATES: Record<number, UnixSocketInfo['state']> = {
  1: 'UNCONNECTED',
  2: 'CONNECTING',
  3: 'CONNECTED',
  4: 'DISCONNECTING',
};
/** __SO_ACCEPTCON in the Flags column: the socket is listening. */
const SO_ACCEPTCON = 0x10000;

/** Parses /proc/PID/net/unix into `out`, keyed by socket inode. */
export function parseUnixTable(text: string, out: Map<number, SocketInfo>): void {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    // Num: RefCount Protocol Flags Type St Inode [Path]   (Path may contain spaces)
    const m = /^\s*[0-9a-fA-F]+:\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+(\d+)(?: (.*))?$/.exec(
      lines[i]!,
    );
    if (!m) continue;
    const flags = parseInt(m[1]!, 16);
    const info: UnixSocketInfo = {
      family: 'unix',
      protocol: UNIX_TYPES[parseInt(m[2]!, 16)] ?? 'other',
      path: m[5] ? m[5] : null,
      state: flags & SO_ACCEPTCON ? 'LISTEN' : (UNIX_STATES[parseInt(m[3]!, 16)] ?? 'UNKNOWN'),
    };
    out.set(Number(m[4]), info);
  }
}

function readOptional(path: string): string | null {
  try {
    return fs.readFileSync(path, 'latin1');
  } catch (err) {
    // IPv6 disabled → no tcp6/udp6; the process may also have exited.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Reads all socket tables of the network namespace of `pid`, keyed by socket inode. */
export function readSocketTables(pid: number): Map<number, SocketInfo> {
  const out = new Map<number, SocketInfo>();
  const base = `/proc/${pid}/net`;
  const tables: Array<[string, 'inet' | 'inet6', 'tcp' | 'udp']> = [
    ['tcp', 'inet', 'tcp'],
    ['tcp6', 'inet6', 'tcp'],
    ['udp', 'inet', 'udp'],
    ['udp6', 'inet6', 'udp'],
  ];
  for (const [file, family, protocol] of tables) {
    const text = readOptional(`${base}/${file}`);
    if (text !== null) parseInetTable(text, family, protocol, out);
  }
  const unix = readOptional(`${base}/unix`);
  if (unix !== null) parseUnixTable(unix, out);
  return out;
}
