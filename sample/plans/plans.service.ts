import { Injectable } from '@nestjs/common';

export type Plan = 'free' | 'pro' | 'internal';

/** Which plan each customer pays for. A real app would read this from its database. */
@Injectable()
export class PlansService {
  private readonly plans = new Map<string, Plan>([
    ['alice', 'pro'],
    ['ops', 'internal'],
  ]);

  planOf(userId: string | null): Plan {
    return (userId !== null && this.plans.get(userId)) || 'free';
  }
}
