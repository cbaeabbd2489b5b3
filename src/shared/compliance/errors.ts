/**
 * A compliance rule stopped something. Carries the rule that applied and, when known, the campaign
 * and its source of law, so logs and API errors can say exactly why.
 */
export class ComplianceError extends Error {
  readonly rule: string;
  readonly campaignId: string | undefined;
  readonly source: string | undefined;

  constructor(message: string, ctx: { rule: string; campaignId?: string; source?: string }) {
    super(message);
    this.name = 'ComplianceError';
    this.rule = ctx.rule;
    this.campaignId = ctx.campaignId;
    this.source = ctx.source;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      rule: this.rule,
      campaignId: this.campaignId,
      source: this.source,
    };
  }
}
