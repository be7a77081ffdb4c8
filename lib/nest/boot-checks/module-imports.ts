import type { ModulesContainer } from '@nestjs/core';
import { describeValue } from '../../core/describe-value.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import type { EntryPoint } from '../../throttles/throttling-runtime.js';
import type { EnforcementPoint, ThrottlingModuleOptions } from '../module/throttling-options.interface.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';

/** Marks each import of ThrottlingModule, so a boot error can say which module imported it. */
export const IMPORT_SITE = Symbol('nestjs-throttling:import-site');

/** One import of ThrottlingModule in an app. */
interface ModuleImport {
  readonly site: object;
  readonly entryPoint: EntryPoint;
  /** The options as compared: the user's, with the effective `enforceAt`. */
  readonly compared: Record<string, unknown>;
  readonly settings: Promise<ThrottlingSettings>;
}

/** The first import of each app (keyed by the app's ModulesContainer). */
const FIRST_IMPORTS = new WeakMap<object, ModuleImport>();

/**
 * ThrottlingModule may be imported more than once in an app, and every import then runs on the
 * same settings, built once: one store, one set of rates, whichever import a guard, a throttle or
 * ThrottlingService comes from. That holds only when the imports agree, so different options fail
 * the boot, naming the options that differ and where each import is. Options are compared by
 * content (plain objects and arrays), functions, classes and instances by identity.
 */
export function settingsForImport(
  modules: ModulesContainer,
  site: object,
  entryPoint: EntryPoint,
  options: ThrottlingModuleOptions,
  staticEnforceAt: EnforcementPoint | undefined,
  create: () => Promise<ThrottlingSettings>,
): Promise<ThrottlingSettings> {
  const compared = withoutUndefined(options);
  if (options !== null && typeof options === 'object') compared.enforceAt = options.enforceAt ?? staticEnforceAt ?? 'guard';
  const first = FIRST_IMPORTS.get(modules);
  if (first === undefined) {
    const settings = create();
    FIRST_IMPORTS.set(modules, { site, entryPoint, compared, settings });
    return settings;
  }
  if (first.site === site) return first.settings;
  const differences = differencesOf(first.compared, compared, '');
  if (differences.length === 0) return first.settings;
  const one = importLabel(modules, first.site, first.entryPoint);
  const other = importLabel(modules, site, entryPoint);
  throw new ThrottleConfigError(
    `ThrottlingModule is imported twice with different options, ${one} and ${other}: ${differences.slice(0, 5).join('; ')}` +
      `${differences.length > 5 ? `; and ${differences.length - 5} more` : ''}. Every import runs on one set of settings, so they must agree: ` +
      'import it once, in the root module, with the options for the whole app (or give every import the same options), and give features their own limits with @ThrottleClasses() and .with() variants.',
  );
}

/** "ThrottlingModule.forRoot() in AppModule", from the static imports of the app's modules. */
function importLabel(modules: ModulesContainer, site: object, entryPoint: EntryPoint): string {
  for (const module of modules.values()) {
    const imports: unknown[] = Reflect.getMetadata('imports', module.metatype) ?? [];
    const found = imports.some((candidate) => ((candidate as { providers?: unknown[] } | null)?.providers ?? []).some((provider) => (provider as { provide?: unknown; useValue?: unknown })?.provide === IMPORT_SITE && (provider as { useValue?: unknown }).useValue === site));
    if (found) return `ThrottlingModule.${entryPoint}() in ${module.metatype.name}`;
  }
  return `ThrottlingModule.${entryPoint}()`;
}

function isPlain(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function withoutUndefined(value: unknown): Record<string, unknown> {
  if (!isPlain(value)) return {};
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined));
}

/** `path: a vs b` for every leaf that differs; plain objects and arrays by content, anything else by identity. */
function differencesOf(a: unknown, b: unknown, path: string): string[] {
  if (Object.is(a, b)) return [];
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${path}: ${describeValue(a)} vs ${describeValue(b)}`];
    return a.flatMap((item, index) => differencesOf(item, b[index], `${path}[${index}]`));
  }
  if (isPlain(a) && isPlain(b)) {
    const left = withoutUndefined(a);
    const right = withoutUndefined(b);
    const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])];
    return keys.flatMap((key) => differencesOf(left[key], right[key], path === '' ? key : `${path}.${key}`));
  }
  const shown = (value: unknown) => (value === undefined ? 'not set' : describeValue(value));
  const same = typeof a === 'function' && typeof b === 'function' ? ' (two different functions)' : typeof a === 'object' && typeof b === 'object' ? ' (two different objects)' : '';
  return [`${path}: ${shown(a)} vs ${shown(b)}${same}`];
}
