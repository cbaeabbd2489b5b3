import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
// BlockList also matches IPv4-mapped addresses (::ffff:127.0.0.1, as URL writes it ::ffff:7f00:1)
// against the IPv4 subnet, and reads ::1 in every spelling.
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Pure: whether a host names an interface only this machine reaches. Takes HOST as configured and a
 * URL's `hostname` alike (which keeps an IPv6 address in brackets: `new URL('http://[::1]:1').hostname`
 * is `[::1]`, and writes an IPv4-mapped one in hex).
 *
 * True for 127.0.0.0/8 and ::1 in any spelling, bracketed or IPv4-mapped, and for the name
 * `localhost`. Every other name is false, `ip6-localhost`, `ip6-loopback`, `*.localhost` and
 * `localhost.` included: they are loopback only where the resolver makes them so (Debian's, Docker's
 * and Kubernetes' hosts files; systemd's nss-myhostname), elsewhere DNS and the search domains answer
 * them, and HOST is refused or warned about on this answer — a name that may reach the network must
 * not pass for loopback.
 */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const bracketed = host.startsWith('[') && host.endsWith(']');
  const address = bracketed ? host.slice(1, -1) : host;
  const family = isIP(address);
  // Brackets hold an IPv6 address only: `[127.0.0.1]` is no host.
  if (family === 0 || (bracketed && family !== 6)) return false;
  try {
    return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    // An address BlockList cannot read (an IPv6 zone on a link-local address, `fe80::1%eth0`) is no
    // loopback one.
    return false;
  }
}
