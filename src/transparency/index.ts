/** The public face of the transparency context: what other contexts may use. Nothing else is imported across contexts. */
export { TransparencyModule } from './transparency.module';
