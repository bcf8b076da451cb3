import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '../../access';
import { NotFoundError } from '../../platform';
import { EVENT_CATALOGUE, EventTypeSchema, eventTypeSchema } from '../event-catalogue';

/** A catalogued type as the API shows it. */
export type EventTypeView = EventTypeSchema & { readonly type: string };

/**
 * The event catalogue as documented schemas (docs/events.md), so emitters can learn which fields
 * travel in `personal.data`. The same for every caller: any valid key may read it.
 */
@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/event-types')
export class EventTypesController {
  @Get()
  @RequirePermission('authenticated')
  @ApiOperation({ summary: 'Every catalogued event type with its schema' })
  list(): { items: EventTypeView[] } {
    return { items: Object.entries(EVENT_CATALOGUE).map(([type, schema]) => ({ type, ...schema })) };
  }

  @Get(':type')
  @RequirePermission('authenticated')
  @ApiOperation({ summary: "One catalogued type's schema" })
  get(@Param('type') type: string): EventTypeView {
    const schema = eventTypeSchema(type);
    if (schema === undefined) throw new NotFoundError(`no event type of that name in the catalogue`);
    return { type, ...schema };
  }
}
