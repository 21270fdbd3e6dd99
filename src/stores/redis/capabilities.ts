/** What a Redis server lets these credentials do, learnt from the errors it answers. */
export type Feature = 'scripting' | 'writes' | 'publish';

/** How long a refused feature is left alone before it is tried again (a failover, an ACL change, freed memory). */
const RETRY_AFTER_MS: Record<'acl' | 'readonly' | 'oom', number> = { acl: 60_000, readonly: 5_000, oom: 1_000 };

/**
 * The features a store found refused: `scripting` (`NOPERM` on EVAL/EVALSHA, or no such command), `writes`
 * (`READONLY` replica, `OOM` with `noeviction`, `NOPERM` on a write), `publish` (`NOPERM` on PUBLISH). A
 * refused feature is not used until its retry time (then one call tries it again); the store falls back
 * to what works in the meantime.
 */
export class Capabilities {
  private readonly refusedUntil: Record<Feature, number> = { scripting: 0, writes: 0, publish: 0 };

  allows(feature: Feature): boolean {
    return Date.now() >= this.refusedUntil[feature];
  }

  /**
   * Learn from an error a command got: the feature it shows refused, if any, and whether that is news
   * (the feature was in use until now) — calls already on their way when it was learnt fail the same way.
   */
  learn(error: unknown, inScript: Feature = 'scripting'): { feature: Feature; news: boolean } | null {
    const message = error instanceof Error ? error.message : String(error);
    const refused = classify(message, inScript);
    if (!refused) return null;
    const news = this.allows(refused.feature);
    this.refusedUntil[refused.feature] = Date.now() + RETRY_AFTER_MS[refused.reason];
    return { feature: refused.feature, news };
  }
}

/**
 * A refusal inside a script does not name its command (Redis 7: `ERR The user executing the script can't
 * run this command or subcommand script: …`): `inScript` is the feature the caller knows the script
 * needs beyond what it has been allowed so far — `publish` for a write that carries an announcement, then
 * `scripting` once a write without one is refused too — so that each refusal is learnt once.
 */
function classify(message: string, inScript: Feature): { feature: Feature; reason: 'acl' | 'readonly' | 'oom' } | null {
  if (message.startsWith('READONLY')) return { feature: 'writes', reason: 'readonly' };
  if (message.startsWith('OOM')) return { feature: 'writes', reason: 'oom' };
  if (message.startsWith('NOPERM')) {
    const command = /'([a-z|]+)' command/i.exec(message)?.[1]?.toLowerCase() ?? '';
    if (command.startsWith('eval') || command.startsWith('script')) return { feature: 'scripting', reason: 'acl' };
    if (command === 'publish' || command === 'spublish') return { feature: 'publish', reason: 'acl' };
    return { feature: 'writes', reason: 'acl' };
  }
  if (/unknown command .?eval/i.test(message)) return { feature: 'scripting', reason: 'acl' };
  if (/can't run this command or subcommand/i.test(message)) return { feature: inScript, reason: 'acl' };
  // A Redis without the command a script calls (SPUBLISH before Redis 7): as refused as an ACL would.
  if (/unknown redis command called from/i.test(message)) return { feature: inScript, reason: 'acl' };
  // Redis 7 prefixes a refusal raised inside a script with the script's own error code.
  if (/^ERR .*\bOOM command not allowed/.test(message)) return { feature: 'writes', reason: 'oom' };
  return null;
}
