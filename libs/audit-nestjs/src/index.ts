export * from './audit.interceptor';
export * from './audit.module';
export * from './audit.options';
export * from './audit.service';
export * from './audited.decorator';
