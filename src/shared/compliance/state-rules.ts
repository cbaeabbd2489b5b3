import type { Weekday } from '../campaign-config.js';

/**
 * State telemarketing rules stricter than the federal 08:00–21:00, in the called party's local time.
 * DATA, not code: every row names the statute it encodes. Rows are added only when the rule and its
 * citation are certain; states known to have further restrictions whose exact terms were not
 * verified are listed in NOT_ENCODED so nobody mistakes their absence for "no rule".
 */
export interface DayHours {
  start: string;
  end: string;
}

export interface StateRule {
  code: string;
  name: string;
  /** Hours for every day not overridden in `days`. */
  hours: DayHours;
  /** Per-weekday overrides; `null` forbids calling that day. */
  days?: Partial<Record<Weekday, DayHours | null>>;
  /** Telephone-solicitation calls to one person on one subject per rolling 24 h (enforced by the list's retry policy in CXone; reported here). */
  maxCallsPer24h?: number;
  /**
   * A part of the state's rule this table cannot hold, shown with the row in the compliance report:
   * days it forbids by date (state holidays), for which no calendar is encoded; the campaign's
   * `blackoutDates` are where those dates go.
   */
  notEncoded?: string;
  /**
   * The holidays on which the state forbids calls, with their sources, when a calendar of them is
   * computed (holidays.ts, by the row's code): no window opens on one of its dates. Read after "no
   * calls on".
   */
  holidays?: string;
  /** The statute or regulation, with section. */
  source: string;
}

export const STATE_RULES: Readonly<Record<string, StateRule>> = {
  FL: {
    code: 'FL',
    name: 'Florida',
    hours: { start: '08:00', end: '20:00' },
    maxCallsPer24h: 3,
    source: 'Fla. Stat. § 501.616(6)(a)–(b) (Florida Telemarketing Act, as amended 2021)',
  },
  OK: {
    code: 'OK',
    name: 'Oklahoma',
    hours: { start: '08:00', end: '20:00' },
    maxCallsPer24h: 3,
    source: 'Okla. Stat. tit. 15 § 775C.4 (Oklahoma Telephone Solicitation Act of 2022)',
  },
  MD: {
    code: 'MD',
    name: 'Maryland',
    hours: { start: '08:00', end: '20:00' },
    maxCallsPer24h: 3,
    source: 'Md. Code Ann., Com. Law § 14-4502 (Stop the Spam Calls Act of 2023, SB 90, in force 2024-01-01)',
  },
  TX: {
    code: 'TX',
    name: 'Texas',
    hours: { start: '09:00', end: '21:00' },
    days: { sun: { start: '12:00', end: '21:00' } },
    source: 'Tex. Bus. & Com. Code § 301.051',
  },
  WA: {
    code: 'WA',
    name: 'Washington',
    hours: { start: '08:00', end: '20:00' },
    source: 'Rev. Code Wash. § 80.36.390(2)',
  },
  CT: {
    code: 'CT',
    name: 'Connecticut',
    hours: { start: '09:00', end: '20:00' },
    source: 'Conn. Gen. Stat. § 42-288a (hours as amended by P.A. 23-98, in force 2023-10-01)',
  },
  MA: {
    code: 'MA',
    name: 'Massachusetts',
    hours: { start: '08:00', end: '20:00' },
    source: '201 CMR 12.02(2), under M.G.L. c. 159C',
  },
  MS: {
    code: 'MS',
    name: 'Mississippi',
    hours: { start: '08:00', end: '21:00' },
    days: { sun: null },
    // Its Public Service Commission's rule against calls on legal holidays went with the rules it
    // repealed when enforcement passed to the Attorney General (2023); the Sunday ban is statute.
    source: 'Miss. Code Ann. § 77-3-723(1) (Mississippi Telephone Solicitation Act)',
  },
  LA: {
    code: 'LA',
    name: 'Louisiana',
    hours: { start: '08:00', end: '20:00' },
    days: { sun: null },
    notEncoded:
      "no calls on days declared state holidays (La. Rev. Stat. § 45:811(3)), including those a governor declares; no holiday calendar is encoded, so list those dates in the campaign's blackoutDates. During a state of emergency the governor declares, no telephonic solicitation at all beyond its exceptions (La. Rev. Stat. § 45:844.31): list the emergency's dates too, or pause the campaign",
    source: 'La. Rev. Stat. § 45:811(2)–(3)',
  },
  RI: {
    code: 'RI',
    name: 'Rhode Island',
    hours: { start: '09:00', end: '18:00' },
    days: { sat: { start: '10:00', end: '17:00' }, sun: null },
    holidays:
      'state or federal holidays (R.I. Gen. Laws § 5-61-2, "hours of operation"; the general holidays of R.I. Gen. Laws § 25-1-1 and the legal public holidays of 5 U.S.C. § 6103)',
    notEncoded:
      "holidays the governor, the General Assembly, the President or Congress appoint beyond those (R.I. Gen. Laws § 25-1-1) are in no calendar; list those dates in the campaign's blackoutDates",
    source: 'R.I. Gen. Laws §§ 5-61-3.6 and 5-61-2 ("hours of operation")',
  },
  UT: {
    code: 'UT',
    name: 'Utah',
    hours: { start: '08:00', end: '21:00' },
    days: { sun: null },
    // Its legal holidays (Utah Code § 63G-1-301) were changed in 2022, 2025 and 2026 (Juneteenth, then
    // the day it is kept on, Easter Sunday, Good Friday): no calendar is encoded for a list in flux.
    notEncoded:
      "no calls on a legal holiday (Utah Code § 13-25a-103(3)(c)), the days of Utah Code § 63G-1-301 as in force on the day, and those the governor or the President proclaims; no holiday calendar is encoded, so list those dates in the campaign's blackoutDates",
    source:
      'Utah Code § 13-25a-103(3) (Telephone and Facsimile Solicitation Act; calls without prior express consent)',
  },
};

/**
 * Known to restrict calls beyond the federal rule (Sundays, holidays or shorter hours) but NOT
 * encoded: the exact terms, citations or reach were not verified. Campaigns to these states get the
 * federal rule only; legal review should turn each into a STATE_RULES row. Besides Alabama, the
 * states that compliance guides for telemarketers (2025) list as stricter than the federal hours and
 * that have no row: a campaign declaring one is told so by its compliance report, rather than told
 * that nothing stricter is known.
 */
export const NOT_ENCODED: Readonly<Record<string, string>> = {
  AL: "Sunday and state-holiday restrictions in the Alabama Public Service Commission's telephone rules, which bind telephone utilities rather than every telemarketer (citation not verified)",
  KY: 'Kentucky: telephone solicitations only 10:00–21:00 local time, as compliance guides report it, among the practices KRS 367.46955 prohibits (the paragraph itself not verified)',
  MI: 'Michigan: telephone solicitations only 09:00–21:00 local time, as compliance guides report it (citation and reach not verified)',
  MN: 'Minnesota: calls only 09:00–21:00 local time, at least those made with an automatic dialing-announcing device, as compliance guides report it (citation and reach not verified)',
  NV: 'Nevada: telephone solicitations only 09:00–20:00 local time, as compliance guides report it (citation and reach not verified)',
  NM: 'New Mexico: telephone solicitations only 09:00–21:00 local time, as compliance guides report it (citation and reach not verified)',
  PA: 'Pennsylvania: shorter Sunday hours and no calls on some legal holidays, as compliance guides report it (terms, citation and reach not verified)',
};

/** USPS codes of the states, DC and the territories where US telemarketing law applies. */
// prettier-ignore
export const USPS_CODES: ReadonlySet<string> = new Set([
  'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA', 'KS', 'KY',
  'LA', 'ME', 'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY', 'NC', 'ND',
  'OH', 'OK', 'OR', 'PA', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV', 'WI', 'WY',
  'DC', 'PR', 'VI', 'GU', 'AS', 'MP',
]);

/** The hours a state allows on one weekday: its row's override, its default, or null for no calls. */
export function stateHoursFor(rule: StateRule, day: Weekday): DayHours | null {
  const override = rule.days?.[day];
  return override === undefined ? rule.hours : override;
}
