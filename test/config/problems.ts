import { ConfigError, loadConfig } from '../../src/shared/config.js';

/** What loadConfig refuses in `env`, one line per problem as the process prints them; [] when valid. */
export function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
