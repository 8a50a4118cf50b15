import { createHmac } from 'node:crypto';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { posix, win32 } from 'node:path';
import { ValidationError } from '../core/errors.js';
import type { AnonymisedEvent, AnonymisedResource } from '../contracts/anonymised-event.js';
import { type EventSource, type SubjectKind, type TelemetryEvent } from '../contracts/telemetry-event.js';
import type { PseudonymKeyring } from './pseudonym-keys.js';
import type { AnonymisedResourceColumns, ColumnSubject, ResourceColumns } from '../contracts/resource-columns.js';

export interface AnonymiserOptions {
  keyring: PseudonymKeyring;
  /** IPv4 addresses are kept as this prefix (default 24; 0 drops them entirely). */
  ipv4PrefixBits?: number;
  /** IPv6 addresses are kept as this prefix (default 48; 0 drops them entirely). */
  ipv6PrefixBits?: number;
}

export interface Anonymiser {
  /** The subject's pseudonym under the current key. */
  pseudonym(kind: PseudonymKind, id: string): string;
  /** Its pseudonyms under every key still kept (consent and revoke must reach data from before a rotation). */
  pseudonymsUnderAllKeys(kind: PseudonymKind, id: string): string[];
  scrubText(text: string): string;
  anonymise(event: TelemetryEvent): AnonymisedEvent;
  /** The same for column-wise resource samples: one subject, so one pseudonym for them all. */
  anonymiseColumns(columns: ResourceColumns): AnonymisedResourceColumns;
}

export type PseudonymKind = SubjectKind | 'session';
const prefixes: Record<PseudonymKind, string> = { user: 'u', client: 'c', vm: 'v', session: 's' };

export function createAnonymiser(options: AnonymiserOptions): Anonymiser {
  const v4Bits = options.ipv4PrefixBits ?? 24;
  const v6Bits = options.ipv6PrefixBits ?? 48;
  if (!Number.isInteger(v4Bits) || v4Bits < 0 || v4Bits > 32) throw new ValidationError('ipv4PrefixBits', 'expected an integer from 0 to 32');
  if (!Number.isInteger(v6Bits) || v6Bits < 0 || v6Bits > 128) throw new ValidationError('ipv6PrefixBits', 'expected an integer from 0 to 128');
  const keys = options.keyring.keys;
  if (keys.length === 0) throw new ValidationError('keyring', 'has no key');

  // Traces repeat the same few identifiers millions of times; an HMAC each time would dominate.
  const cache = new Map<string, string>();
  const hmac = (key: Buffer, kind: PseudonymKind, id: string): string =>
    `${prefixes[kind]}_${createHmac('sha256', key).update(`${kind}\0${id}`).digest('base64url').slice(0, 22)}`;
  const pseudonym = (kind: PseudonymKind, id: string): string => {
    const k = `${kind}\0${id}`;
    let p = cache.get(k);
    if (p === undefined) {
      if (cache.size >= 100_000) cache.clear();
      p = hmac(keys[0]!.key, kind, id);
      cache.set(k, p);
    }
    return p;
  };
  const aliases = (kind: PseudonymKind, id: string): string[] => keys.slice(1).map((k) => hmac(k.key, kind, id));
  const scrub = (s: string): string => scrubText(s, v4Bits, v6Bits);
  const categories = new Map<string, string>();
  const scrubCategory = (c: string): string => {
    let out = categories.get(c);
    if (out === undefined) {
      if (categories.size >= 10_000) categories.clear();
      categories.set(c, (out = scrub(c)));
    }
    return out;
  };

  return {
    pseudonym,
    pseudonymsUnderAllKeys: (kind, id) => keys.map((k) => hmac(k.key, kind, id)),
    scrubText: scrub,
    anonymiseColumns(c) {
      // Numbers only besides the subject and the category: nothing else to scrub.
      const subject: ColumnSubject = { subject: pseudonym(c.subject.kind, c.subject.id), subjectKind: c.subject.kind };
      if (c.category !== undefined) subject.category = scrubCategory(c.category);
      if (c.source === 'agent' && keys.length > 1) subject.aliases = aliases(c.subject.kind, c.subject.id);
      const out: AnonymisedResourceColumns = { source: c.source, subjects: [subject], rows: c.rows, time: c.time, values: c.values };
      return out;
    },
    anonymise(e) {
      const base: { time: number; subject: string; subjectKind: SubjectKind; source: EventSource; category?: string; aliases?: string[]; image?: string } = {
        time: e.time,
        subject: pseudonym(e.subject.kind, e.subject.id),
        subjectKind: e.subject.kind,
        source: e.source,
      };
      // A digest (validated as one): not personal, kept as is.
      if (e.image !== undefined) base.image = e.image;
      // A category is an operator's slug, yet it is free text all the same.
      if (e.category !== undefined) base.category = scrubCategory(e.category);
      // Free text is cut at the first blank: names, paths and hosts have none, and what follows
      // is usually arguments (tokens, passwords, addresses of other people).
      if (e.source === 'agent' && keys.length > 1) base.aliases = aliases(e.subject.kind, e.subject.id);
      switch (e.kind) {
        case 'resource': {
          // The hot path of bulk imports: every sample gets the same object shape (absent fields
          // are undefined), so the store's reads of them stay monomorphic.
          const out: AnonymisedResource = {
            time: base.time,
            subject: base.subject,
            subjectKind: base.subjectKind,
            source: base.source,
            kind: 'resource',
            category: base.category,
            aliases: base.aliases,
            image: base.image,
            cpuCores: e.cpuCores,
            cpuPercent: e.cpuPercent,
            memoryBytes: e.memoryBytes,
            memoryTotalBytes: e.memoryTotalBytes,
            diskReadBps: e.diskReadBps,
            diskWriteBps: e.diskWriteBps,
            netInBps: e.netInBps,
            netOutBps: e.netOutBps,
          };
          return out;
        }
        case 'launch':
          return {
            ...base,
            kind: 'launch',
            executable: scrub(firstToken(e.executable)),
            ...(e.user === undefined ? {} : { user: pseudonym('user', e.user) }),
            ...(e.session === undefined ? {} : { session: pseudonym('session', e.session) }),
          };
        case 'command':
          return {
            ...base,
            kind: 'command',
            program: scrub(programName(e.command)),
            ...(e.seq === undefined ? {} : { seq: e.seq }),
            ...(e.session === undefined ? {} : { session: pseudonym('session', e.session) }),
            ...(e.task === undefined ? {} : { task: scrub(firstToken(e.task)) }),
            ...(e.outcome === undefined ? {} : { outcome: e.outcome }),
          };
        case 'flow':
          return { ...base, kind: 'flow', direction: e.direction, protocol: e.protocol, port: e.port, remote: remoteHost(e.remote, v4Bits, v6Bits), bytes: e.bytes, ...(e.outcome === undefined ? {} : { outcome: e.outcome }) };
        case 'access':
          return { ...base, kind: 'access', target: scrubTarget(e.target, v4Bits, v6Bits), bytes: e.bytes, ...(e.op === undefined ? {} : { op: e.op }) };
      }
    },
  };
}

/** The program of a command line: no arguments, no leading `VAR=value`, no directory. */
export function programName(command: string): string {
  const tokens = command.trim().split(/\s+/);
  const program = tokens.find((t) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) ?? '';
  const name = program.includes('\\') ? win32.basename(program) : posix.basename(program);
  return name.replace(/^["']+|["']+$/g, '') || '(none)';
}

function firstToken(s: string): string {
  return s.trim().split(/\s+/)[0] ?? '';
}

const userinfoRe = /([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi;
const emailRe = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const unixHomeRe = /(\/(?:home|Users|var\/home|export\/home|usr\/home)\/)[^/\s'"]+/g;
const windowsHomeRe = /([A-Za-z]:\\(?:Users|Documents and Settings)\\)[^\\\s'"]+/gi;
const tildeHomeRe = /(^|[\s'"=:(])~[A-Za-z_][\w.-]*/g;
const ipv6CandidateRe = /[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:%[0-9A-Za-z_.-]+)?/g;
const ipv4Re = /(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?(?!\d|\.\d)/g;

/**
 * Removes personal data from free text: e-mail addresses and URL credentials go, user names in
 * home-directory paths become `<user>`, IP addresses are cut to their configured prefix.
 */
export function scrubText(s: string, v4Bits = 24, v6Bits = 48): string {
  let out = s;
  if (out.includes('@')) out = out.replace(userinfoRe, '$1').replace(emailRe, '<email>');
  if (out.includes('/')) out = out.replace(unixHomeRe, '$1<user>');
  if (out.includes('\\')) out = out.replace(windowsHomeRe, '$1<user>');
  if (out.includes('~')) out = out.replace(tildeHomeRe, '$1~<user>');
  if (out.includes(':')) out = out.replace(ipv6CandidateRe, (m) => scrubIpv6Candidate(m, v6Bits));
  if (out.includes('.')) {
    out = out.replace(ipv4Re, (m, a: string, b: string, c: string, d: string, bits: string | undefined) => {
      const octets = [a, b, c, d].map(Number);
      if (octets.some((o) => o > 255)) return m;
      return ipv4Prefix(octets, Math.min(v4Bits, bits === undefined ? 32 : Number(bits)));
    });
  }
  return out;
}

function scrubIpv6Candidate(m: string, bits: number): string {
  let core = m;
  let tail = '';
  while (core.length > 0 && (core.endsWith('.') || (core.endsWith(':') && !core.endsWith('::')))) {
    tail = core.slice(-1) + tail;
    core = core.slice(0, -1);
  }
  const addr = core.split('%')[0]!;
  if (!isIPv6(addr)) return m;
  return ipv6Prefix(addr, bits) + tail;
}

export function ipv4Prefix(octets: readonly number[], bits: number): string {
  if (bits <= 0) return '<ip>';
  const n = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const masked = bits >= 32 ? n : (n & (~0 << (32 - bits))) >>> 0;
  const dotted = [24, 16, 8, 0].map((s) => (masked >>> s) & 255).join('.');
  return bits >= 32 ? dotted : `${dotted}/${bits}`;
}

export function ipv6Prefix(addr: string, bits: number): string {
  if (bits <= 0) return '<ip>';
  const groups = expandIpv6(addr);
  const keep = Math.ceil(Math.min(bits, 128) / 16);
  const out = groups.slice(0, keep);
  const rem = bits % 16;
  if (rem !== 0 && keep <= 8) out[keep - 1] = out[keep - 1]! & ((0xffff << (16 - rem)) & 0xffff);
  const hex = out.map((g) => g.toString(16));
  if (bits >= 128) return hex.join(':');
  while (hex.length > 0 && hex.at(-1) === '0') hex.pop(); // the zeros are what "::" stands for
  return `${hex.join(':')}::/${bits}`;
}

function expandIpv6(addr: string): number[] {
  let a = addr;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    a = a.slice(0, -v4[1]!.length);
    if (a.endsWith(':') && !a.endsWith('::')) a = a.slice(0, -1);
  }
  const [head, rest] = a.split('::') as [string, string | undefined];
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = parse(head);
  const r = rest === undefined ? [] : parse(rest);
  const zeros = 8 - tail.length - h.length - r.length;
  return [...h, ...Array(Math.max(0, zeros)).fill(0), ...r, ...tail];
}

/** A flow's remote end: addresses and CIDRs become a prefix; a host name is kept, scrubbed. */
function remoteHost(remote: string, v4Bits: number, v6Bits: number): string {
  const r = remote.trim();
  const [addr, len] = r.split('/') as [string, string | undefined];
  const host = addr.replace(/^\[|\]$/g, '');
  const given = len === undefined ? undefined : Number(len);
  if (isIPv4(host)) return ipv4Prefix(host.split('.').map(Number), Math.min(v4Bits, given ?? 32));
  if (isIPv6(host.split('%')[0]!)) return ipv6Prefix(host.split('%')[0]!, Math.min(v6Bits, given ?? 128));
  return scrubText(firstToken(r).toLowerCase(), v4Bits, v6Bits);
}

/** A data access target: a URI loses credentials, query and fragment; a path is scrubbed. */
function scrubTarget(target: string, v4Bits: number, v6Bits: number): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    try {
      const u = new URL(target);
      const bare = u.hostname.replace(/^\[|\]$/g, '');
      const host = isIP(bare) ? remoteHost(bare, v4Bits, v6Bits) : u.hostname;
      return scrubText(firstToken(`${u.protocol}//${host}${u.port ? `:${u.port}` : ''}${decodeURIComponent(u.pathname)}`), v4Bits, v6Bits);
    } catch {
      /* not a URL after all: scrub it as text */
    }
  }
  return scrubText(firstToken(target), v4Bits, v6Bits);
}
