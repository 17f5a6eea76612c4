// The configuration's shape, defaults and rules, validated once at start-up (zod).
import { z } from 'zod';
import { SHIPPED_MODEL, SHIPPED_THICK_MODEL, SHIPPED_REFINERS, THICK_MODEL_ABOVE_DEFAULT } from '../interpolate/model/shipped.js';
import { ADAPT_MAX_THICKNESS_DEFAULT } from '../interpolate/adapt/defaults.js';

const aeTitle = z
  .string()
  .trim()
  .min(1)
  .max(16)
  .regex(/^[\x20-\x5b\x5d-\x7e]+$/, 'an AE title is 1-16 printable characters without backslash');

/**
 * pipeline.adapt when the configuration does not set it. To be chosen on measurements; change it
 * here, and config/default.yaml and the README table with it (test/unit/config*.test.ts hold them together).
 */
export const ADAPT_DEFAULT: 'none' | 'series' | 'auto' = 'none';

const port = z.number().int().min(0).max(65535);

const pemFiles = z.object({ ca: z.string().min(1), cert: z.string().min(1).optional(), key: z.string().min(1).optional() }).strict();

const dimseDestination = z.object({
  name: z.string().min(1),
  kind: z.literal('dimse'),
  aeTitle,
  host: z.string().min(1),
  port: port.min(1),
  tls: pemFiles.nullable().optional(),
  // IOCM: a Key Object Selection Document "Rejected for Quality Reasons" for each superseded derived series.
  rejectSuperseded: z.boolean().default(false),
  // Storage Commitment Push Model: delivered only once the destination commits every instance.
  storageCommitment: z.boolean().default(false),
});

// A secret is given as the value, a file holding it or an environment variable naming it.
const optionalSecret = z.string().min(1).optional();
const stowAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('bearer'), token: optionalSecret, tokenFile: optionalSecret, tokenEnv: optionalSecret }).strict(),
  z.object({ type: z.literal('basic'), username: z.string().min(1), password: optionalSecret, passwordFile: optionalSecret, passwordEnv: optionalSecret }).strict(),
]);

const stowDestination = z
  .object({
    name: z.string().min(1),
    kind: z.literal('stowrs'),
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL (the STOW-RS endpoint)' }),
    auth: stowAuth.nullable().optional(),
    tls: pemFiles.nullable().optional(),
    batchSize: z.number().int().min(1).max(10_000).default(20),
    rejectSuperseded: z.boolean().default(false),
  })
  .strict()
  .superRefine((d, ctx) => {
    const u = new URL(d.url);
    if (u.username || u.password) ctx.addIssue({ code: 'custom', path: ['url'], message: 'no credentials in the URL (they would be logged); use auth' });
    if (d.tls && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls needs an https:// url' });
    if (d.auth) {
      const keys = d.auth.type === 'bearer' ? (['token', 'tokenFile', 'tokenEnv'] as const) : (['password', 'passwordFile', 'passwordEnv'] as const);
      const given = keys.filter((k) => (d.auth as Record<string, unknown>)[k] !== undefined);
      if (given.length !== 1) ctx.addIssue({ code: 'custom', path: ['auth'], message: `${d.auth.type} auth needs exactly one of ${keys.join(', ')}` });
    }
  });

/** A DICOM (C-STORE) destination unless kind says stowrs; existing configurations have no kind. */
export const destinationSchema = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && (v as { kind?: unknown }).kind === undefined ? { ...v, kind: 'dimse' } : v),
  z.discriminatedUnion('kind', [dimseDestination, stowDestination]),
);

export const configSchema = z
  .object({
    dicom: z
      .object({
        aeTitle: aeTitle.default('INTERSLICE'),
        host: z.string().min(1).default('0.0.0.0'),
        port: port.nullable().default(11112),
        tls: z
          .object({
            port: port.default(2762),
            cert: z.string().min(1),
            key: z.string().min(1),
            ca: z.string().min(1).nullable().default(null),
            requireClientCert: z.boolean().default(false),
          })
          .strict()
          .nullable()
          .default(null),
        allowedCallers: z.array(z.union([aeTitle, z.object({ aeTitle, hosts: z.array(z.string().min(1)).optional() }).strict()])).default([]),
        maxPduLength: z.number().int().min(4096).max(16 * 1024 * 1024).default(262144),
        maxAssociations: z.number().int().min(1).default(32),
        timeouts: z
          .object({
            associationSeconds: z.number().positive().default(30),
            pduSeconds: z.number().positive().default(60),
            idleSeconds: z.number().positive().default(120),
          })
          .strict()
          .prefault({}),
        maxInstanceMb: z.number().positive().default(2048),
        // Root of the derived series' UIDs; null = UUID-derived UIDs under 2.25 (PS3.5 B.2).
        uidRoot: z
          .string()
          .regex(/^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/, 'a UID root is dot-separated numbers without leading zeros')
          .max(24, 'a UID root of at most 24 characters leaves room for the 39-digit content hash within 64')
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        dir: z.string().min(1).default('./var'),
        minFreeMb: z.number().min(0).default(1024),
        retentionHours: z.number().min(0).default(168),
      })
      .strict()
      .prefault({}),
    // Several processes sharing one PostgreSQL and one storage.dir (README "Scaling out").
    cluster: z
      .object({
        database: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
          .nullable()
          .default(null),
        leaseSeconds: z.number().min(2).max(3600).default(30),
        poolSize: z.number().int().min(2).max(100).default(10),
      })
      .strict()
      .prefault({}),
    pipeline: z
      .object({
        stableSeconds: z.number().min(0).default(30),
        targetSpacingMm: z.number().positive().default(1.0),
        factor: z.number().int().min(2).max(16).nullable().default(null),
        method: z.enum(['cubic', 'linear', 'model']).default('model'),
        modelPath: z.string().default(`./${SHIPPED_MODEL}`),
        // The model for thick stacks (slice thickness above thickModelAbove of the spacing); null:
        // modelPath for every stack. Stacks that state no SliceThickness use modelPath.
        thickModelPath: z.string().nullable().default(`./${SHIPPED_THICK_MODEL}`),
        thickModelAbove: z.number().min(0).default(THICK_MODEL_ABOVE_DEFAULT),
        // The through-plane refiner run after the model on every stack it synthesises; null: none.
        // A list: each stack gets the first one trained on its factor, else the nearest (refine/choose.ts).
        refinerPath: z.union([z.string(), z.array(z.string()).min(1)]).nullable().default(SHIPPED_REFINERS.map((p) => `./${p}`)),
        // Inference of the model (src/interpolate/engine): provider, batching, tiling.
        executionProvider: z.enum(['auto', 'cuda', 'webgpu', 'cpu']).default('auto'),
        inferenceThreads: z.number().int().min(0).default(0),
        maxBatch: z.number().int().min(1).default(8),
        maxBatchPixels: z.number().int().min(1).default(524288),
        tileSize: z.number().int().min(0).default(512),
        tileOverlap: z.number().int().min(0).default(32),
        // Per-series adaptation of the learned model (src/interpolate/adapt): none, series (adapt a
        // copy of the model to each stack with the Python trainer), auto (series when Python and
        // PyTorch are there, else none). Classical methods ignore it.
        adapt: z.enum(['none', 'series', 'auto']).default(ADAPT_DEFAULT),
        // Wall-clock budget of one adaptation, export included; the trainer is killed at this + 45 s.
        adaptSeconds: z.number().min(1).max(3600).default(60),
        // Stacks whose SliceThickness is more than this fraction of their slice spacing (or unknown)
        // are not adapted: see ADAPT_MAX_THICKNESS_DEFAULT.
        adaptMaxThickness: z.number().min(0).default(ADAPT_MAX_THICKNESS_DEFAULT),
        // An instance for a series whose job already finished: run the job again (a new derived
        // series that supersedes the first) or keep the instance and leave the output as it is.
        lateInstances: z.enum(['rederive', 'ignore']).default('rederive'),
        // Series jobs that fail with a transient error (disk, I/O, inference runtime, memory).
        retry: z
          .object({
            maxAttempts: z.number().int().min(1).default(5),
            initialSeconds: z.number().min(0).default(30),
            maxSeconds: z.number().min(0).default(3600),
          })
          .strict()
          .prefault({}),
        select: z
          .object({
            minSpacingRatio: z.number().positive().default(1.5),
            minSpacingMm: z.number().positive().default(3.0),
            minSlices: z.number().int().min(2).default(8),
            modalities: z.array(z.string().min(1)).default(['MR']),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    send: z
      .object({
        maxAttempts: z.number().int().min(1).default(10),
        baseDelaySeconds: z.number().min(0).default(5),
        maxDelaySeconds: z.number().min(0).default(600),
        callingAeTitle: aeTitle.nullable().default(null),
        timeoutSeconds: z.number().positive().default(60),
        // No storage commitment report within this long: commitment is requested again (backoff).
        commitmentTimeoutSeconds: z.number().positive().default(600),
      })
      .strict()
      .prefault({}),
    destinations: z.array(destinationSchema).default([]),
    admin: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(8080),
        token: z.string().min(1).nullable().default(null),
      })
      .strict()
      .prefault({}),
    // IHE ATNA audit trail (src/audit): DICOM audit messages as RFC 5424 syslog.
    audit: z
      .object({
        syslog: z
          .array(
            z
              .object({
                transport: z.enum(['tls', 'udp']),
                host: z.string().min(1),
                port: port.min(1),
                ca: z.string().min(1).optional(),
                cert: z.string().min(1).optional(),
                key: z.string().min(1).optional(),
              })
              .strict(),
          )
          .default([]),
        spoolDir: z.string().min(1).nullable().default(null),
        maxSpooled: z.number().int().min(1).default(10000),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
        file: z.string().nullable().default(null),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.dicom.port === null && !cfg.dicom.tls) ctx.addIssue({ code: 'custom', path: ['dicom', 'port'], message: 'null (no plain port) needs dicom.tls' });
    if (cfg.dicom.tls?.requireClientCert && !cfg.dicom.tls.ca) ctx.addIssue({ code: 'custom', path: ['dicom', 'tls', 'ca'], message: 'requireClientCert needs a ca' });
    cfg.audit.syslog.forEach((c, i) => {
      if (c.transport === 'udp' && (c.ca || c.cert || c.key)) ctx.addIssue({ code: 'custom', path: ['audit', 'syslog', i], message: 'ca, cert and key are for transport tls' });
      if (!!c.cert !== !!c.key) ctx.addIssue({ code: 'custom', path: ['audit', 'syslog', i], message: 'cert and key go together' });
    });
    const names = new Set<string>();
    cfg.destinations.forEach((d, i) => {
      if (names.has(d.name)) ctx.addIssue({ code: 'custom', path: ['destinations', i, 'name'], message: `duplicate destination name "${d.name}"` });
      names.add(d.name);
    });
  });

export type Config = z.infer<typeof configSchema>;
export type Destination = z.infer<typeof destinationSchema>;
