/**
 * Federal calling hours: 08:00–21:00 in the called party's local time. A module of its own so that
 * the config rules and the legal hours built from it can import each other's users without a cycle.
 */
export const FEDERAL_WINDOW = {
  start: '08:00',
  end: '21:00',
  source: 'TCPA 47 CFR 64.1200(c)(1); FTC TSR 16 CFR 310.4(c)',
} as const;
