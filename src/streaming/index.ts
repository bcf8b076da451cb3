/** The public face of the streaming context: what other contexts may use. Nothing else is imported across contexts. */
export { StreamingModule } from './streaming.module';
