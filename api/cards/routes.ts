import { slug } from '../../src/validation/fields.ts';
import { z } from 'zod';
import { exportCardPublicKeyJwk } from '../../src/cards/card-keys.ts';
import { findCurrentCard } from '../../src/cards/card-store.ts';
import { CARD_REVOCATION_REASONS, MANUAL_REVOCATION_REASONS, revokeCurrentCard } from '../../src/cards/card-revocation.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { memberGeographyPath } from '../../src/members/member-queries.ts';
import type { ApiDeps } from '../deps.ts';
import { hasRole, headsAreaOf } from '../auth/context.ts';
import { ApiError } from '../http/errors.ts';
import { partyBySlug } from '../http/tenancy.ts';
import { requestDocument, responseDocument } from '../http/jsonapi.ts';
import type { RouteRegistry } from '../http/route.ts';
import { cardPublicKeys } from '../../src/cards/card-public-keys.ts';
import { CardVerificationAttributes, verifyCard } from './verify-card.ts';
import { tokenFromScan } from '../../src/cards/card-verify-url.ts';

const JwkSet = z.object({
  keys: z.array(z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.literal('EdDSA'), use: z.literal('sig') })),
});

export function cardRoutes(registry: RouteRegistry, deps: Pick<ApiDeps, 'pool' | 'storage' | 'clock' | 'keyring'>): void {
  registry.add({
    method: 'get',
    path: '/api/members/:id/card',
    summary: "The member's current ID card as a PDF (tenant_admin, registrar, ops, or a head whose area covers the member)",
    tag: 'cards',
    access: 'user',
    params: z.object({ id: z.guid() }),
    responses: { 200: { description: 'the ID card', contentType: 'application/pdf', schema: z.string().meta({ format: 'binary' }) } },
    async handler({ params, auth: user, req, res }) {
      const card = await withTenant(deps.pool, { tenantId: user.tenantId, actor: `user:${user.userId}`, ip: req.ip, userAgent: req.get('user-agent') }, async (tx) => {
        const geographyPath = await memberGeographyPath(tx, params.id);
        if (geographyPath === null) throw ApiError.notFound('member');
        if (!hasRole(user, 'tenant_admin', 'registrar', 'ops') && !headsAreaOf(user, geographyPath)) {
          throw ApiError.forbidden('the card is for tenant_admin, registrar, ops, or a head whose area covers the member');
        }
        return findCurrentCard(tx, params.id);
      });
      if (!card) throw new ApiError('CARD_NOT_FOUND', 'the member has no current ID card');
      const pdf = await deps.storage.get(card.storageKey);
      res.status(200).type('application/pdf')
        .setHeader('content-disposition', `inline; filename="${card.memberNumber}.pdf"`)
        .setHeader('cache-control', 'private, no-store')
        .send(Buffer.from(pdf));
      return undefined;
    },
  });

  registry.add({
    method: 'post',
    path: '/api/members/:id/card/revoke',
    summary: "Revoke the member's current ID card, e.g. lost or stolen: from then on the public card check answers CARD_REVOKED (tenant_admin, registrar)",
    tag: 'cards',
    access: 'user',
    params: z.object({ id: z.guid() }),
    body: requestDocument('card-revocations', z.object({
      reason: z.enum(MANUAL_REVOCATION_REASONS).describe('why; a word from the list, never free text (it enters the member\'s event history)'),
    })),
    responses: { 200: { description: 'the revoked card (404 CARD_NOT_FOUND when the member holds no current card)', schema: responseDocument('card-revocations', z.object({
      memberId: z.string(), reason: z.enum(CARD_REVOCATION_REASONS), revokedAt: z.string(),
    })) } },
    async handler({ params, body, auth: user, req }) {
      // The member rolls' keepers: a registrar handles a lost or stolen card the day it is
      // reported; heads, treasurers and ops do not revoke.
      if (!hasRole(user, 'tenant_admin', 'registrar')) throw ApiError.forbidden('revoking a card is for tenant_admin or registrar');
      const actor = `user:${user.userId}`;
      const revoked = await withTenant(deps.pool, { tenantId: user.tenantId, actor, ip: req.ip, userAgent: req.get('user-agent') }, async (tx) => {
        if (await memberGeographyPath(tx, params.id) === null) throw ApiError.notFound('member');
        return revokeCurrentCard(tx, user.tenantId, params.id, body.data.attributes.reason, actor);
      });
      if (!revoked) throw new ApiError('CARD_NOT_FOUND', 'the member has no current ID card');
      return { status: 200, body: { data: { type: 'card-revocations', id: revoked.cardId, attributes: {
        memberId: revoked.memberId, reason: revoked.reason, revokedAt: revoked.revokedAt.toISOString() } } } };
    },
  });

  registry.add({
    method: 'get',
    path: '/api/cards/verify',
    summary: "Verify an ID card's QR token: the party's signature, the date, and that the card is not revoked",
    tag: 'cards',
    access: 'public',
    query: z.object({ token: z.string().min(1).max(1024).describe('the token, or the verify URL a card\'s QR code carries (its token parameter is taken)') }),
    responses: { 200: { description: 'the verdict (422 with TOKEN_MALFORMED, TOKEN_BAD_SIGNATURE or TOKEN_EXPIRED)', schema: responseDocument('card-verifications', CardVerificationAttributes) } },
    async handler({ query, req }) {
      const { tokenId, ...attributes } = await verifyCard(deps, tokenFromScan(query.token), { ip: req.ip, userAgent: req.get('user-agent') }, deps.clock());
      return { status: 200, body: { data: { type: 'card-verifications', id: tokenId, attributes } }, headers: { 'cache-control': 'no-store' } };
    },
  });

  registry.add({
    method: 'get',
    path: '/api/parties/:slug/card-keys',
    summary: "The party's card-signing public keys as a JWK set, for verifying cards offline",
    tag: 'cards',
    access: 'public',
    params: z.object({ slug }),
    responses: { 200: { description: 'RFC 7517 JWK set of RFC 8037 Ed25519 keys, current key first', contentType: 'application/jwk-set+json', schema: JwkSet } },
    async handler({ params, req, res }) {
      const tenant = await partyBySlug(deps.pool, params.slug);
      const keys = await withTenant(deps.pool, { tenantId: tenant.id, actor: 'card-keys', ip: req.ip }, (tx) => cardPublicKeys(tx, deps.keyring, tenant, deps.clock()));
      res.status(200).type('application/jwk-set+json').setHeader('cache-control', 'public, max-age=300')
        .send(JSON.stringify({ keys: keys.map(({ key }) => exportCardPublicKeyJwk(key)) }));
      return undefined;
    },
  });
}
