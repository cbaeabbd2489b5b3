import type { AuditInput } from '../../src/shared/audit/types.js';
import type { AppContext } from '../../src/shared/context.js';

/** What the fleet recorded while a test ran: its audit records and its events. */
export interface Recorded {
  audit: AuditInput[];
  events: { type: string; data: Record<string, unknown> }[];
}

/**
 * A stack's ctxOverrides that records every audit record and event into `recorded` (still writing
 * them; an event prepared for a script, once the script wrote it), with the CXone client's calls
 * replaced as `cxone` says (the test's hooks around them).
 */
export function recording(
  recorded: Recorded,
  cxone: (base: AppContext['cxone']) => Partial<AppContext['cxone']> = () => ({}),
) {
  return (base: AppContext): Partial<AppContext> => {
    const audit = Object.create(base.audit) as AppContext['audit'] & {
      appendWithOutcome(input: AuditInput): Promise<unknown>;
    };
    const realAudit = base.audit as typeof audit;
    audit.appendWithOutcome = async (input: AuditInput) => {
      recorded.audit.push(input);
      return realAudit.appendWithOutcome(input);
    };
    const events = Object.create(base.events) as AppContext['events'];
    // An event published `once` again (a retry announcing the same change) is the same event, by its
    // id: recorded as the receiver sees it, once.
    const once = new Set<string>();
    events.publish = async (...args: Parameters<AppContext['events']['publish']>) => {
      const record = () => recorded.events.push({ type: args[0], data: args[2] as Record<string, unknown> });
      if (args[3]?.once === undefined) {
        record();
        return base.events.publish(...args);
      }
      const published = await base.events.publish(...args);
      if (!once.has(published.id)) record();
      once.add(published.id);
      return published;
    };
    // An event written by the script of the change it announces (a launch's outcome) is recorded once
    // that script wrote it.
    events.prepare = (...args: Parameters<AppContext['events']['prepare']>) => {
      const event = base.events.prepare(...args);
      return {
        ...event,
        afterWrite: async () => {
          recorded.events.push({ type: args[0], data: args[2] });
          await event.afterWrite();
        },
      };
    };
    return { audit, events, cxone: { ...base.cxone, ...cxone(base.cxone) } };
  };
}

/** The `launch_failed` audit records and `campaign.launch.failed` events recorded for one launch. */
export function launchFailures(recorded: Recorded, launchId: string) {
  return {
    audit: recorded.audit.filter(
      (a) => a.action === 'launch_failed' && (a.details as { launchId?: string }).launchId === launchId,
    ),
    events: recorded.events.filter(
      (e) => e.type === 'campaign.launch.failed' && e.data.launchId === launchId,
    ),
  };
}
