import { Inject } from '@nestjs/common';
import { Command, CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock, IDS, type Ids } from '../../platform';
import { GrantNotFoundError, LegalPersonExistsError } from '../access.errors';
import { CreateApiKey, IssuedApiKey } from '../keys/create-api-key.command';
import { Principal, Role } from '../roles';
import {
  NewPrincipal,
  PrincipalState,
  decideApproveGrant,
  decideCreatePrincipal,
  decideFirstLegalPerson,
  decideGrant,
  decideRevokeGrant,
  decideRevokePrincipal,
} from './principal.decider';
import { PrincipalChanges } from './principal-changes';
import { PrincipalStore } from './principal.store';

/** A person or a service, without grants yet (docs/api.md "Principals"). */
export class CreatePrincipal extends Command<PrincipalState> {
  constructor(
    readonly by: Principal,
    readonly principal: Omit<NewPrincipal, 'id'>,
  ) {
    super();
  }
}

/** A role over tenants for a principal: active at once, or pending for `legal`. */
export class GrantRole extends Command<PrincipalState> {
  constructor(
    readonly by: Principal,
    readonly principal: string,
    readonly role: Role,
    readonly tenants: readonly string[],
  ) {
    super();
  }
}

/** A second legal person approves a pending `legal` grant. */
export class ApproveGrant extends Command<PrincipalState> {
  constructor(
    readonly by: Principal,
    readonly grant: string,
  ) {
    super();
  }
}

export class RevokeGrant extends Command<PrincipalState> {
  constructor(
    readonly by: Principal,
    readonly grant: string,
  ) {
    super();
  }
}

export class RevokePrincipal extends Command<PrincipalState> {
  constructor(
    readonly by: Principal,
    readonly principal: string,
  ) {
    super();
  }
}

/** The first legal person of an installation, with a key (the command line, once). */
export class CreateFirstLegalPerson extends Command<{ principal: PrincipalState; key: IssuedApiKey }> {
  constructor(
    readonly by: Principal,
    readonly person: { name: string; email: string },
  ) {
    super();
  }
}

@CommandHandler(CreatePrincipal)
export class CreatePrincipalHandler implements ICommandHandler<CreatePrincipal> {
  constructor(
    private readonly changes: PrincipalChanges,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  execute({ by, principal }: CreatePrincipal): Promise<PrincipalState> {
    const events = decideCreatePrincipal(by, { ...principal, id: this.ids.next() }, this.clock.now());
    return this.changes.create(by, events);
  }
}

@CommandHandler(GrantRole)
export class GrantRoleHandler implements ICommandHandler<GrantRole> {
  constructor(
    private readonly changes: PrincipalChanges,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  execute({ by, principal, role, tenants }: GrantRole): Promise<PrincipalState> {
    const id = this.ids.next();
    return this.changes.apply(by, principal, (current, now) => decideGrant(by, current, { id, role, tenants }, now));
  }
}

@CommandHandler(ApproveGrant)
export class ApproveGrantHandler implements ICommandHandler<ApproveGrant> {
  constructor(
    private readonly changes: PrincipalChanges,
    private readonly store: PrincipalStore,
  ) {}

  async execute({ by, grant }: ApproveGrant): Promise<PrincipalState> {
    const principal = await this.store.holderOfGrant(grant);
    if (principal === undefined) throw new GrantNotFoundError();
    return this.changes.apply(by, principal, (current, now) => decideApproveGrant(by, current, grant, now));
  }
}

@CommandHandler(RevokeGrant)
export class RevokeGrantHandler implements ICommandHandler<RevokeGrant> {
  constructor(
    private readonly changes: PrincipalChanges,
    private readonly store: PrincipalStore,
  ) {}

  async execute({ by, grant }: RevokeGrant): Promise<PrincipalState> {
    const principal = await this.store.holderOfGrant(grant);
    if (principal === undefined) throw new GrantNotFoundError();
    return this.changes.apply(by, principal, (current, now) => decideRevokeGrant(by, current, grant, now));
  }
}

@CommandHandler(RevokePrincipal)
export class RevokePrincipalHandler implements ICommandHandler<RevokePrincipal> {
  constructor(private readonly changes: PrincipalChanges) {}

  execute({ by, principal }: RevokePrincipal): Promise<PrincipalState> {
    return this.changes.apply(by, principal, (current, now) => decideRevokePrincipal(by, current, now));
  }
}

@CommandHandler(CreateFirstLegalPerson)
export class CreateFirstLegalPersonHandler implements ICommandHandler<CreateFirstLegalPerson> {
  constructor(
    private readonly changes: PrincipalChanges,
    private readonly store: PrincipalStore,
    private readonly commands: CommandBus,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async execute({ by, person }: CreateFirstLegalPerson): Promise<{ principal: PrincipalState; key: IssuedApiKey }> {
    const events = decideFirstLegalPerson(
      by,
      { id: this.ids.next(), name: person.name, email: person.email, oidcSubject: null },
      this.ids.next(),
      this.clock.now(),
    );
    const principal = await this.changes.create(by, events, {
      // Inside the transaction, under a lock: two first legal persons at once end with one.
      check: async (sql) => {
        if (await this.store.legalPersonExists(sql)) throw new LegalPersonExistsError();
      },
    });
    const key = await this.commands.execute(
      new CreateApiKey(by, `${person.name}-key`, ['legal'], ['*'], null, principal.id),
    );
    return { principal, key };
  }
}
