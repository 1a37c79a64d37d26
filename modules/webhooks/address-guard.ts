import { ReflexError } from '../../core/errors.ts';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a destination was refused; the message names the range so the user knows what to allow. */
export class BlockedDestinationError extends ReflexError {
  constructor(readonly address: string, readonly range: string) {
    super('destination_blocked', `destination ${address} is in the ${range} range; add it to REFLEX_WEBHOOK_ALLOW_HOSTS to allow it`);
  }
}

/**
 * Decides which destinations a webhook may reach. Only public unicast addresses pass, unless the host
 * name, the address or a CIDR holding it is on the allow list. The check runs on the address actually
 * connected to (see `guardedLookup`), so a DNS name that resolves to a private address is refused too.
 */
export class AddressGuard {
  private readonly hosts = new Set<string>();
  private readonly cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  // One lookup function per host name, not one closure per request (dropped whole when large).
  private readonly lookups = new Map<string, LookupFunction>();

  constructor(allow: string[]) {
    for (const entry of allow.map((e) => e.trim().toLowerCase()).filter(Boolean)) {
      if (entry.includes('/')) {
        try {
          this.cidrs.push(ipaddr.parseCIDR(entry));
          continue;
        } catch {
          /* not a CIDR: treat as a host name */
        }
      }
      const bare = entry.replace(/^\[|\]$/g, '');
      if (ipaddr.isValid(bare)) this.cidrs.push([normalize(ipaddr.parse(bare)), normalize(ipaddr.parse(bare)).kind() === 'ipv4' ? 32 : 128]);
      else this.hosts.add(entry);
    }
  }

  hostAllowed(hostname: string): boolean {
    return this.hosts.has(hostname.toLowerCase().replace(/^\[|\]$/g, ''));
  }

  /** Throws BlockedDestinationError unless the address may be connected to. */
  checkAddress(address: string, hostname?: string): void {
    if (hostname && this.hostAllowed(hostname)) return;
    const addr = normalize(ipaddr.parse(address));
    for (const [net, bits] of this.cidrs) {
      if (net.kind() === addr.kind() && addr.match([net, bits] as never)) return;
    }
    const range = rangeOf(addr);
    if (range !== 'unicast') throw new BlockedDestinationError(addr.toString(), range);
  }

  /** A `lookup` for node:http that resolves, then refuses any blocked address before connecting. */
  guardedLookup(hostname: string): LookupFunction {
    let fn = this.lookups.get(hostname);
    if (!fn) {
      if (this.lookups.size >= 1024) this.lookups.clear();
      fn = this.lookupFor(hostname);
      this.lookups.set(hostname, fn);
    }
    return fn;
  }

  private lookupFor(hostname: string): LookupFunction {
    return (host, options, callback) => {
      dnsLookup(host, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, '', 0);
        const list = addresses as unknown as LookupAddress[];
        try {
          for (const a of list) this.checkAddress(a.address, hostname);
        } catch (blocked) {
          return callback(blocked as NodeJS.ErrnoException, '', 0);
        }
        if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
        callback(null, list[0].address, list[0].family);
      });
    };
  }
}

const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/**
 * ipaddr.js's range name, except that the deprecated IPv4-compatible block (`::127.0.0.1`), which it
 * calls unicast, is refused too: whatever a stack does with it, it is never a public destination.
 */
function rangeOf(addr: ipaddr.IPv4 | ipaddr.IPv6): string {
  const range = addr.range();
  if (range === 'unicast' && addr.kind() === 'ipv6' && addr.match(IPV4_COMPATIBLE)) return 'ipv4Compatible';
  return range;
}

/** IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address it carries. */
function normalize(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) return (addr as ipaddr.IPv6).toIPv4Address();
  return addr;
}

/**
 * The URL's host as an IP literal, or null for a DNS name. WHATWG URL parsing already turns decimal,
 * octal, hex and short IPv4 spellings (`2130706433`, `0177.0.0.1`, `127.1`) into dotted form.
 */
export function literalAddress(url: URL): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(host) ? host : null;
}
