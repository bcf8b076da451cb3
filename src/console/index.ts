/** The public face of the console context: what the composition root wires. */
export { ConsoleModule } from './console.module';
