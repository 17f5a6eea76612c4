// The audit trail (IHE ATNA): turns the stages' audit events (core/audit.ts) into DICOM audit
// messages (messages.ts) and hands them to one spool per configured syslog collector
// (spool.ts, transport.ts). Off (noAudit) when audit.syslog is empty.
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { noAudit, type AuditEvent, type AuditSink } from '../core/audit.js';
import type { Logger } from '../core/log.js';
import { loadTlsFiles } from '../core/tls-profile.js';
import { auditMessage, syslogMessage, type AuditSource } from './messages.js';
import { AuditSpool } from './spool.js';
import { tlsTransport, udpTransport } from './transport.js';

export interface AuditTrail extends AuditSink {
  /** Spools what was recorded, tries to send it (bounded), closes the connections. */
  close(): Promise<void>;
}

export function startAudit(cfg: Config, log: Logger): AuditTrail {
  const collectors = cfg.audit.syslog;
  if (collectors.length === 0) return { ...noAudit, close: async () => undefined };
  const host = hostname();
  const src: AuditSource = { sourceId: `${cfg.dicom.aeTitle}@${host}`, aeTitle: cfg.dicom.aeTitle, hostName: host, processId: process.pid };
  const root = cfg.audit.spoolDir ?? join(cfg.storage.dir, 'audit');
  const spools = collectors.map((c, i) => {
    const name = `${c.transport}://${c.host}:${c.port}`;
    const transport = c.transport === 'tls' ? tlsTransport(c.host, c.port, loadTlsFiles(c, `audit.syslog[${i}]`)) : udpTransport(c.host, c.port);
    const dir = join(root, `${i}-${c.transport}-${c.host.replace(/[^A-Za-z0-9.-]/g, '_')}-${c.port}`);
    return new AuditSpool({ dir, name, transport, maxMessages: cfg.audit.maxSpooled, log });
  });
  log.info('audit trail started', { event: 'audit-start', collectors: collectors.map((c) => `${c.transport}://${c.host}:${c.port}`) });
  return {
    record(e: AuditEvent) {
      try {
        const when = new Date();
        const msg = syslogMessage(auditMessage(e, src, when), src, when);
        for (const s of spools) s.add(msg);
      } catch (err) {
        log.error('audit message not built', { event: 'audit-error', kind: e.kind, error: (err as Error).message });
      }
    },
    async close() {
      await Promise.all(spools.map((s) => s.close()));
    },
  };
}
