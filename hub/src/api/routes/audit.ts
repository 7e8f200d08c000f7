import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ChainVerifier, hashedTime } from '../../audit/audit-log.ts';
import { auditFilter, redactAuditData } from '../../audit/audit-scope.ts';
import { requirePermission } from '../../auth/principal.ts';
import type { Db } from '../../store/store.ts';
import type { AuditRow } from '../../store/tables.ts';
import { timeSlicer } from '../../yield.ts';
import { errorResponses } from '../schemas.ts';

const AuditEntryView = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  entityType: Type.String(),
  entityId: Type.String(),
  data: Type.Unknown(),
  hash: Type.String(),
});

const PAGE = 500;
const SCAN_LIMIT = 20_000;
/** Entries hashed per page of a verification: a few milliseconds. */
const VERIFY_PAGE = 1000;

export const auditRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  app.get(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first: entries about your jurisdiction and your own actions',
        description: 'Sign-in addresses are shown to admins only.',
        querystring: Type.Object({
          entityType: Type.Optional(Type.String()),
          entityId: Type.Optional(Type.String()),
          action: Type.Optional(Type.String()),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          beforeSeq: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
        response: { 200: Type.Array(AuditEntryView), ...errorResponses },
      },
    },
    async (req) => {
      requirePermission(req.principal, 'audit:read');
      const { entityType, entityId, action, beforeSeq, limit } = req.query;
      // Entries outside the caller's jurisdiction are skipped; pages of the log are read until the
      // page is full or SCAN_LIMIT entries were looked at (a narrow jurisdiction in a long log).
      const visible = auditFilter(db, req.principal);
      const out: AuditRow[] = [];
      let cursor = beforeSeq;
      // Placing an entry may look its subject up; those awaits finish synchronously, so the scan
      // yields to the event loop on its own every few milliseconds.
      const slice = timeSlicer();
      for (let scanned = 0; out.length < limit && scanned < SCAN_LIMIT; ) {
        let q = db.selectFrom('audit_log').selectAll();
        if (entityType) q = q.where('entity_type', '=', entityType);
        if (entityId) q = q.where('entity_id', '=', entityId);
        if (action) q = q.where('action', '=', action);
        if (cursor) q = q.where('seq', '<', cursor);
        const rows = await q.orderBy('seq', 'desc').limit(PAGE).execute();
        for (const r of rows) {
          await slice();
          if (out.length < limit && (await visible(r))) out.push(r);
        }
        scanned += rows.length;
        if (rows.length < PAGE) break;
        cursor = (rows[rows.length - 1] as AuditRow).seq;
      }
      return out.map((r) => ({
        seq: r.seq,
        at: hashedTime(r),
        actor: r.actor,
        action: r.action,
        entityType: r.entity_type,
        entityId: r.entity_id,
        data: redactAuditData(r.action, JSON.parse(r.data) as unknown, req.principal),
        hash: r.hash,
      }));
    },
  );
  app.get(
    '/audit/verify',
    {
      schema: {
        tags: ['audit'],
        summary: 'Check the hash chain of the whole audit log',
        response: {
          200: Type.Object({
            entries: Type.Integer(),
            intact: Type.Boolean(),
            firstBrokenSeq: Type.Union([Type.Integer(), Type.Null()]),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      requirePermission(req.principal, 'audit:read');
      // A page at a time with yields between: a city's log (hundreds of thousands of entries)
      // read and hashed in one go held the event loop for seconds.
      const chain = new ChainVerifier();
      const slice = timeSlicer();
      for (let after = 0; ; ) {
        const rows = await db
          .selectFrom('audit_log')
          .selectAll()
          .where('seq', '>', after)
          .orderBy('seq')
          .limit(VERIFY_PAGE)
          .execute();
        chain.check(rows);
        if (rows.length < VERIFY_PAGE) break;
        after = (rows[rows.length - 1] as AuditRow).seq;
        await slice();
      }
      return { entries: chain.entries, intact: chain.broken === null, firstBrokenSeq: chain.broken };
    },
  );
};
