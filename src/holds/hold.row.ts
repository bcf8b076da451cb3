import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { HoldState } from './hold.decider';

/**
 * A row of `holds` (migrations/1764460800000-holds.ts), the projection of a hold's entries: its
 * state as the decider's evolve left it, and `version`, the number of events folded into it (a
 * change commits only over the version it was decided on). The schema is the migration's; TypeORM
 * only maps it.
 */
@Entity({ name: 'holds' })
export class HoldRow {
  @PrimaryColumn({ type: 'text' })
  tenant: string;

  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ type: 'text' })
  status: 'active' | 'released';

  @Column({ type: 'jsonb' })
  state: HoldState;

  @Column({ type: 'integer' })
  version: number;
}
