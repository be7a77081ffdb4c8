/**
 * Loads an optional peer package (e.g. @nestjs/websockets) when it is installed, so that apps
 * without WebSockets or microservices need neither. Resolved once, when the library is loaded.
 */
export async function importOptionalPeer<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}
