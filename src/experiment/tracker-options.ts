// The options of ExperimentTracker.create and .resume, validated with zod like the configs (config.ts): a bad
// option fails before anything is written, with one line per problem naming the field, the value and what is allowed.
import { z } from 'zod';
import { ConfigError, formatProblems, type RecursiveConfigInput, type RunConfigInput } from './config';

export interface CreateTrackerOptions {
  /** Folder name of the run under `dir`: letters, digits, '.', '_' and '-'. */
  name: string;
  /** Parent folder of experiments (default ./experiments). */
  dir?: string;
  description?: string;
  tags?: string[];
  /** A config object or the path of a JSON file (validated; a bad one fails before anything is written). */
  recursiveConfig?: RecursiveConfigInput | string;
  runConfig?: RunConfigInput | string;
  /** The model's config.json (written into every checkpoint's model/ folder). */
  modelConfig?: Record<string, unknown>;
  configPaths?: { recursive?: string | null; run?: string | null; model?: string | null };
  /** The command line to record (default process.argv). */
  command?: string[];
  /** When <dir>/<name> exists: 'error' (default) refuses; 'suffix' picks <name>_2, <name>_3, ... */
  ifExists?: 'error' | 'suffix';
  /** status.json heartbeat period (default 10 s). */
  heartbeatMs?: number;
  /** Write TensorBoard event files to logs/ (default true). */
  tensorboard?: boolean;
  flushIntervalMs?: number;
  /** Retention and best selection; default from runConfig.checkpoint. */
  keepLast?: number | null;
  bestMetric?: string;
  bestMode?: 'min' | 'max';
  license?: string;
  dataset?: string | null;
}

export interface ResumeTrackerOptions {
  /**
   * The checkpoint step training restarts from: records logged after it are superseded (moved to superseded/).
   * Default: the latest complete checkpoint (or -1, superseding everything, when there is none). null: keep all.
   */
  fromStep?: number | null;
  /** The model's config.json for this run's checkpoints (default: the newest checkpoint's). */
  modelConfig?: Record<string, unknown>;
  command?: string[];
  heartbeatMs?: number;
  tensorboard?: boolean;
  flushIntervalMs?: number;
}

export const RUN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

// The zod message of each rule is the "allowed" part of the problem line (as in config.ts).
const NAME_ALLOWED = "a folder name of letters, digits, '.', '_' and '-' (not starting with '.', '_' or '-')";
const str = (allowed: string) => z.string({ error: allowed });
const positive = (allowed = 'a number > 0') => z.number({ error: allowed }).positive({ error: allowed });
const modelConfig = z.record(z.string(), z.unknown(), { error: "the model's config.json object" });
const configInput = z.union([z.string(), z.record(z.string(), z.unknown())], { error: 'a config object or the path of a JSON file' });
const command = z.array(z.string(), { error: 'a list of strings (the command line)' });
const shared = {
  modelConfig: modelConfig.optional(),
  command: command.optional(),
  heartbeatMs: positive().optional(),
  tensorboard: z.boolean({ error: 'true or false' }).optional(),
  flushIntervalMs: z.number({ error: 'a number >= 0' }).min(0, { error: 'a number >= 0' }).optional(),
};

const CreateTrackerOptionsSchema = z.strictObject(
  {
    name: str(NAME_ALLOWED).regex(RUN_NAME_RE, { error: NAME_ALLOWED }),
    dir: str('a folder path').optional(),
    description: str('a string').optional(),
    tags: z.array(str('a string'), { error: 'a list of strings' }).optional(),
    recursiveConfig: configInput.optional(),
    runConfig: configInput.optional(),
    configPaths: z
      .strictObject(
        {
          recursive: str('a path or null').nullable().optional(),
          run: str('a path or null').nullable().optional(),
          model: str('a path or null').nullable().optional(),
        },
        { error: 'an object { recursive?, run?, model? } of paths' },
      )
      .optional(),
    ifExists: z.enum(['error', 'suffix'], { error: '"error" or "suffix"' }).optional(),
    keepLast: z
      .number({ error: 'an integer >= 1, or null to keep every checkpoint' })
      .int({ error: 'an integer >= 1, or null to keep every checkpoint' })
      .min(1, { error: 'an integer >= 1, or null to keep every checkpoint' })
      .nullable()
      .optional(),
    bestMetric: str('a metric name such as "eval/loss"').min(1, { error: 'a metric name such as "eval/loss"' }).optional(),
    bestMode: z.enum(['min', 'max'], { error: '"min" or "max"' }).optional(),
    license: str('a license id such as "apache-2.0"').min(1, { error: 'a license id such as "apache-2.0"' }).optional(),
    dataset: str('a string or null').nullable().optional(),
    ...shared,
  },
  { error: 'an object with at least a name' },
);

const ResumeTrackerOptionsSchema = z.strictObject(
  {
    fromStep: z
      .number({ error: 'a checkpoint step (integer >= 0), -1 to supersede everything, or null' })
      .int({ error: 'a checkpoint step (integer >= 0), -1 to supersede everything, or null' })
      .min(-1, { error: 'a checkpoint step (integer >= 0), -1 to supersede everything, or null' })
      .nullable()
      .optional(),
    ...shared,
  },
  { error: 'an object of resume options' },
);

function parseOptions<T>(schema: z.ZodType, input: unknown, source: string): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new ConfigError(source, formatProblems(schema, input, r.error.issues), 'options');
  // The input, not r.data: config objects go on to their own schemas untouched.
  return input as T;
}

export function parseCreateOptions(input: unknown): CreateTrackerOptions {
  return parseOptions<CreateTrackerOptions>(CreateTrackerOptionsSchema, input, 'ExperimentTracker.create');
}

export function parseResumeOptions(input: unknown): ResumeTrackerOptions {
  return parseOptions<ResumeTrackerOptions>(ResumeTrackerOptionsSchema, input ?? {}, 'ExperimentTracker.resume');
}

/** Steps are integers >= 0; `optional` also lets undefined and null through. */
export function checkStep(what: string, step: unknown, optional = false): void {
  if (optional && (step === undefined || step === null)) return;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) throw new TypeError(`${what}: step must be an integer >= 0, got ${JSON.stringify(step)}`);
}
