import { describe, expect, it } from 'vitest';
import { callWindowSchema, toValidationIssues, weekdayProblem } from '../../src/shared/campaign-config.js';

const DAYS = 'mon, tue, wed, thu, fri, sat or sun';

describe('the message for a day the schema recognises but refuses', () => {
  it('blames the spaces around a day written in lower case, not its case', () => {
    expect(weekdayProblem(' mon')).toBe('" mon" must be written "mon": a day name has no spaces around it');
    expect(weekdayProblem('thu ')).toBe('"thu " must be written "thu": a day name has no spaces around it');
    expect(weekdayProblem('\tfri\n')).toBe(
      '"\\tfri\\n" must be written "fri": a day name has no spaces around it',
    );
    expect(weekdayProblem(' mon')).not.toMatch(/lower case/);
  });

  it('blames the case or the long name of a day without spaces', () => {
    expect(weekdayProblem('Mon')).toBe(`"Mon" must be written "mon": days are ${DAYS}, in lower case`);
    expect(weekdayProblem('monday')).toBe(`"monday" must be written "mon": days are ${DAYS}, in lower case`);
  });

  it('names both when a day has both', () => {
    expect(weekdayProblem(' Monday ')).toBe(
      `" Monday " must be written "mon": a day name has no spaces around it, and days are ${DAYS}, in lower case`,
    );
    expect(weekdayProblem('THU ')).toBe(
      `"THU " must be written "thu": a day name has no spaces around it, and days are ${DAYS}, in lower case`,
    );
  });

  it("is what a calling window answers, at the day's path", () => {
    const window = { days: ['mon', 'wed '], start: '09:00', end: '17:00' };
    const parsed = callWindowSchema.safeParse(window);
    expect(parsed.success).toBe(false);
    expect(toValidationIssues(parsed.error!, window)).toEqual([
      { path: 'days.1', message: '"wed " must be written "wed": a day name has no spaces around it' },
    ]);
  });

  it('takes a tab or a line break around a day as the spaces, and an empty or blank value as no day', () => {
    expect(weekdayProblem('\tmon')).toBe(
      '"\\tmon" must be written "mon": a day name has no spaces around it',
    );
    expect(weekdayProblem('mon\n')).toBe(
      '"mon\\n" must be written "mon": a day name has no spaces around it',
    );
    expect(weekdayProblem('')).toBe(`"" is not a day name: use ${DAYS}`);
    expect(weekdayProblem('  ')).toBe(`"  " is not a day name: use ${DAYS}`);
  });

  it('leaves other values as they were', () => {
    expect(weekdayProblem('lun')).toBe(`"lun" is not a day name: use ${DAYS}`);
    expect(weekdayProblem(7)).toBe(`must be a day name: ${DAYS}`);
  });
});
