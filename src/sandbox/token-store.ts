import { randomBytes, timingSafeEqual } from 'node:crypto';
import { monotonicOf, type Clock } from '../shared/clock.js';
import { CXONE_SCOPES, type CxoneScope } from '../shared/cxone/wire.js';
import type { SandboxClient } from './types.js';

export interface TokenGrant {
  clientId: string;
  tenant: string;
  scopes: readonly CxoneScope[];
  /**
   * On the monotonic clock (Clock.monotonicNow), not the wall clock: an expiry on wall time lived an
   * hour longer after an hour's step back of the clock (NTP, a VM resuming), and died at once after
   * a step forward, where the token's `expires_in` promised otherwise.
   */
  expiresAtMonoMs: number;
}

export type TokenCheck = { ok: true; grant: TokenGrant } | { ok: false; reason: 'unknown' | 'expired' };

export type ScopeRequest =
  { ok: true; scopes: CxoneScope[] } | { ok: false; unknown: string[]; notGranted: string[] };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Registered OAuth clients: who may ask for a token, with which scopes. */
export class ClientRegistry {
  private readonly clients = new Map<string, SandboxClient>();

  constructor(clients: readonly SandboxClient[]) {
    for (const client of clients) this.clients.set(client.clientId, client);
  }

  /** Whether `clientId` names a registered client (whatever secret it would be sent with). */
  has(clientId: string): boolean {
    return this.clients.has(clientId);
  }

  authenticate(clientId: string, clientSecret: string): SandboxClient | null {
    const client = this.clients.get(clientId);
    return client && sameSecret(client.clientSecret, clientSecret) ? client : null;
  }

  /** Resolves an OAuth `scope` parameter (space separated; absent = everything the client has). */
  resolveScopes(client: SandboxClient, scope: string | undefined): ScopeRequest {
    const asked = (scope ?? '').split(/\s+/).filter((s) => s.length > 0);
    if (asked.length === 0) return { ok: true, scopes: [...client.scopes] };
    const known = new Set<string>(CXONE_SCOPES);
    const unknown = asked.filter((s) => !known.has(s));
    const notGranted = asked.filter((s) => known.has(s) && !client.scopes.includes(s as CxoneScope));
    if (unknown.length > 0 || notGranted.length > 0) return { ok: false, unknown, notGranted };
    return { ok: true, scopes: [...new Set(asked as CxoneScope[])] };
  }

  tenantOf(client: SandboxClient): string {
    return client.tenant ?? client.clientId;
  }
}

/** Opaque bearer tokens with a real expiry. Expired tokens are swept lazily. */
export class TokenStore {
  private readonly tokens = new Map<string, TokenGrant>();
  private issuedSinceSweep = 0;
  private readonly monoNow: () => number;

  constructor(
    clock: Clock,
    private readonly ttlSeconds: number,
  ) {
    this.monoNow = monotonicOf(clock);
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  issue(
    clientId: string,
    tenant: string,
    scopes: readonly CxoneScope[],
  ): { token: string; grant: TokenGrant } {
    this.sweepOccasionally();
    const token = randomBytes(32).toString('base64url');
    const grant: TokenGrant = {
      clientId,
      tenant,
      scopes,
      expiresAtMonoMs: this.monoNow() + this.ttlSeconds * 1000,
    };
    this.tokens.set(token, grant);
    return { token, grant };
  }

  check(token: string): TokenCheck {
    const grant = this.tokens.get(token);
    if (!grant) return { ok: false, reason: 'unknown' };
    if (this.monoNow() >= grant.expiresAtMonoMs) return { ok: false, reason: 'expired' };
    return { ok: true, grant };
  }

  clear(): void {
    this.tokens.clear();
  }

  /**
   * Revokes every token issued to `clientId` (every token when omitted), as CXone does when a key is
   * deactivated or rotated: each is refused from now on (401 invalid_token, as an unknown one), long
   * before its expiry. Returns how many were still valid.
   */
  revoke(clientId?: string): number {
    const now = this.monoNow();
    let revoked = 0;
    for (const [token, grant] of this.tokens) {
      if (clientId !== undefined && grant.clientId !== clientId) continue;
      if (now < grant.expiresAtMonoMs) revoked += 1;
      this.tokens.delete(token);
    }
    return revoked;
  }

  /**
   * Expired tokens stay answerable as "expired" (not "unknown") for a while, which helps clients
   * tell the two apart; they are dropped once they are a full TTL past expiry.
   */
  private sweepOccasionally(): void {
    this.issuedSinceSweep += 1;
    if (this.issuedSinceSweep < 256) return;
    this.issuedSinceSweep = 0;
    const cutoff = this.monoNow() - this.ttlSeconds * 1000;
    for (const [token, grant] of this.tokens) {
      if (grant.expiresAtMonoMs < cutoff) this.tokens.delete(token);
    }
  }
}
