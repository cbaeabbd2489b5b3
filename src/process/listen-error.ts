/**
 * A socket that cannot be bound, as one line an operator can act on: which variable to change and
 * why. Pure; undefined for errors that are not about the address (those stay stack-traced logs).
 */
export function describeListenError(
  err: unknown,
  where: { portVariable: string; port: number; host: string },
): string | undefined {
  const { portVariable, port, host } = where;
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      return `${portVariable} ${port} is already in use on ${host}; set ${portVariable} to a free port`;
    case 'EACCES':
      return `${portVariable} ${port} needs privileges this process does not have; set ${portVariable} to 1024 or above`;
    case 'EADDRNOTAVAIL':
      return `HOST ${host} is not an address of this machine; set HOST to one of its addresses, or 0.0.0.0 for all`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `HOST ${host} does not resolve to an address; set HOST to an address of this machine, or 0.0.0.0 for all`;
    default:
      return undefined;
  }
}
