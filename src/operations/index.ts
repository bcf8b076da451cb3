/** The public face of the operations context: what other contexts may use. Nothing else is imported across contexts. */
export { OperationsModule } from './operations.module';
