// The `interslice` command line: serve, process, echo, eval. Each subcommand lives in its own
// file; this one only declares the options (also what `--help` prints).
import { Command, InvalidArgumentError } from 'commander';
import { createRequire } from 'node:module';
import { ALL_ROLES, parseRoles, type Role } from '../core/roles.js';
import { SHIPPED_CHECKPOINT, SHIPPED_MODEL, SHIPPED_REFINERS, SHIPPED_THICK_MODEL, THICK_MODEL_ABOVE_DEFAULT } from '../interpolate/model/shipped.js';
import { ADAPT_MAX_THICKNESS_DEFAULT } from '../interpolate/adapt/defaults.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}
function positiveInteger(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}
function integerFactor(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError('must be an integer of at least 2');
  return n;
}
function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number 1-65535');
  return n;
}
function method(v: string): 'cubic' | 'linear' | 'model' {
  if (v !== 'cubic' && v !== 'linear' && v !== 'model') throw new InvalidArgumentError('must be cubic, linear or model');
  return v;
}

function factorList(v: string): number[] {
  return v.split(',').map((x) => integerFactor(x.trim()));
}
function fileList(v: string): string[] {
  return v.split(',').map((x) => x.trim()).filter(Boolean);
}
function methodList(v: string): ('cubic' | 'linear' | 'model')[] {
  return v.split(',').map((x) => method(x.trim()));
}

function roleList(v: string): Role[] {
  try {
    return parseRoles(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

const program = new Command();
program
  .name('interslice')
  .description('DICOM node that turns thick-slice MR stacks into thin-slice DERIVED series')
  .version(pkg.version);

program
  .command('serve')
  .description('run the DICOM node: C-STORE listener, pipeline and outbox')
  .option('-c, --config <file>', 'YAML configuration file', 'config/default.yaml')
  .option('--roles <roles>', 'what this process does, comma-separated: receive (DICOM listener), process (series jobs), send (outbox); other than all three needs cluster.database', roleList, [...ALL_ROLES])
  .action(async (opts: { config: string; roles: Role[] }) => {
    const { serve } = await import('./serve.js');
    await serve(opts);
  });

program
  .command('process')
  .description('run the pipeline on files, without a network: one line per stack, derived series as Part-10 files')
  .argument('<input-dir>', 'folder with DICOM files (searched recursively)')
  .requiredOption('-o, --out <dir>', 'where derived series are written')
  .option('--spacing <mm>', 'target slice spacing in mm (default: the configuration\'s, 1.0)', positiveNumber)
  .option('--factor <n>', 'divide the source spacing by this integer instead', integerFactor)
  .option('--method <method>', 'cubic | linear | model (default: the configuration\'s)', method)
  .option('-c, --config <file>', 'YAML configuration for selection rules and defaults')
  .option('--json', 'print one JSON object per stack instead of text')
  .action(async (input: string, opts) => {
    if (opts.spacing !== undefined && opts.factor !== undefined) program.error('use either --spacing or --factor, not both');
    const { processCommand } = await import('./process.js');
    process.exitCode = await processCommand(input, opts);
  });

program
  .command('echo')
  .description('send a C-ECHO to a DICOM peer')
  .argument('<host>', 'peer host name or address')
  .argument('<port>', 'peer port', port)
  .option('--aet <aet>', 'our (calling) AE title', 'INTERSLICE')
  .option('--called-aet <aet>', 'the peer\'s (called) AE title', 'ANY-SCP')
  .action(async (host: string, p: number, opts: { aet: string; calledAet: string }) => {
    const { echoCommand } = await import('./echo.js');
    process.exitCode = await echoCommand(host, p, opts);
  });

program
  .command('eval')
  .description('measure interpolation quality on isotropic volumes (drop slices, rebuild, PSNR/SSIM): one figure, or a table of volumes x factors with linear, cubic, model and the model\'s gain (--adapt: and the model adapted to each volume)')
  .argument('<volumes...>', 'DICOM series folders or NIfTI files')
  .requiredOption('--factor <n[,n...]>', 'keep every n-th slice (a comma list gives one row per factor)', factorList)
  .option('--method <method[,method...]>', 'cubic | linear | model, or a comma list (default: all three, as a table)', methodList)
  .option('--model <file>', 'ONNX model for --method model', SHIPPED_MODEL)
  .option('--thick-model <file>', 'ONNX model for kept slices thicker than --thick-model-above of their spacing (--thick ones are as thick as it, thin ones 1/n), as the node\'s pipeline.thickModelPath; none: --model for every row', SHIPPED_THICK_MODEL)
  .option('--thick-model-above <r>', `the node's pipeline.thickModelAbove (default ${THICK_MODEL_ABOVE_DEFAULT})`, positiveNumber, THICK_MODEL_ABOVE_DEFAULT)
  .option('--refiner <file[,file...]>', 'through-plane refiners run after the model over each rebuilt stack, the one for each factor chosen as the node chooses among pipeline.refinerPath; none: the model alone', fileList, [...SHIPPED_REFINERS])
  .option('--thick', 'average n neighbouring slices before keeping every n-th (thick-slice profile)')
  .option('--adapt', 'also adapt the model to each volume\'s kept slices (the node\'s per-series trainer; needs Python and PyTorch) and report adapted vs zero-shot, the guard\'s decision and what the pipeline would deliver')
  .option('--adapt-seconds <n>', 'the trainer\'s budget per volume and factor with --adapt (default 120)', positiveNumber)
  .option('--adapt-steps <n>', 'the trainer\'s training steps at most with --adapt (default: the trainer\'s, 400)', positiveInteger)
  .option('--adapt-max-thickness <r>', `with --adapt: kept slices thicker than this fraction of their spacing are not adapted, as in the node (default ${ADAPT_MAX_THICKNESS_DEFAULT}, pipeline.adaptMaxThickness's); kept slices are 1/n of their spacing thick, 1 with --thick`, positiveNumber)
  .option('--json', 'print JSON')
  .action(async (volumes: string[], opts) => {
    const { evalCommand } = await import('./eval.js');
    process.exitCode = await evalCommand(volumes, opts);
  });

program
  .command('finetune')
  .description('fine-tune the model on this site\'s series (self-supervised), check it, write a new ONNX model')
  .requiredOption('--from <dir>', 'folder of DICOM series (files, or the node\'s <storage.dir>/spool)')
  .requiredOption('--out <file>', 'the new model (.onnx); load it with pipeline.modelPath + SIGHUP or a restart')
  .option('--minutes <n>', 'training time cap in minutes (default 8)', positiveNumber)
  .option('--init <checkpoint>', `PyTorch checkpoint to start from (default: ${SHIPPED_CHECKPOINT})`)
  .action(async (opts: { from: string; out: string; minutes?: number; init?: string }) => {
    const { finetuneCommand } = await import('./finetune.js');
    process.exitCode = await finetuneCommand(opts);
  });

const jobs = program.command('jobs').description('series jobs in the dead letter: list them, requeue one');
jobs
  .command('list')
  .description('list the dead letter (from the running node, or from storage.dir when none runs)')
  .option('-c, --config <file>', 'YAML configuration file', 'config/default.yaml')
  .option('--json', 'print JSON')
  .action(async (opts: { config: string; json?: boolean }) => {
    const { jobsListCommand } = await import('./jobs.js');
    process.exitCode = await jobsListCommand(opts);
  });
jobs
  .command('retry')
  .description('requeue a dead series job (its attempts start again)')
  .argument('<key>', 'the job key `interslice jobs list` prints')
  .option('-c, --config <file>', 'YAML configuration file', 'config/default.yaml')
  .action(async (key: string, opts: { config: string }) => {
    const { jobsRetryCommand } = await import('./jobs.js');
    process.exitCode = await jobsRetryCommand(key, opts);
  });

await program.parseAsync(process.argv);
