import { SetMetadata } from '@nestjs/common';
import { Permission } from './roles';

export const PERMISSION = 'audit:permission';

/** The one permission a route requires. The guard denies routes without one. */
export const RequirePermission = (permission: Permission) => SetMetadata(PERMISSION, permission);
