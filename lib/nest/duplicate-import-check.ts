import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { ThrottlingModuleOptions } from './throttling-options.interface.js';
import { THROTTLING_OPTIONS } from './tokens.js';

/**
 * ThrottlingModule may be imported more than once, and a request is still counted once: by the
 * guard of the import Nest registers first. The other imports' options then do nothing, which is
 * surprising when they differ, so the first import logs a warning at boot.
 */
@Injectable()
export class DuplicateImportCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('ThrottlingModule');

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(THROTTLING_OPTIONS) private readonly ownOptions: ThrottlingModuleOptions | undefined,
  ) {}

  onApplicationBootstrap(): void {
    const imports = this.discovery.getProviders().filter((wrapper) => wrapper.token === THROTTLING_OPTIONS);
    // Only the first import speaks, so the warning is logged once.
    if (imports.length < 2 || imports[0].instance !== this.ownOptions) return;
    const options = imports.map((wrapper) => wrapper.instance as ThrottlingModuleOptions | undefined);
    if (options.every((other) => sameOptions(options[0], other))) return;
    this.logger.warn(
      `ThrottlingModule is imported ${imports.length} times with different options. Every request is counted once, by the ` +
        'import Nest registers first (the first in import order); the options of the others do nothing. Import it once, in the ' +
        'root module, and give features their own limits with @ThrottleClasses() and .with() variants.',
    );
  }
}

/** The same object, or the same own keys holding the same values. */
function sameOptions(a: ThrottlingModuleOptions | undefined, b: ThrottlingModuleOptions | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => (a as Record<string, unknown>)[key] === (b as Record<string, unknown>)[key]);
}
