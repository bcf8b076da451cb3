import { Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/**
 * The console's scripts and style, read once at start: htmx from its package, the console's own
 * from `assets/` beside this file (nest-cli.json copies them into the build). Only these names are
 * served; nothing is loaded from another host.
 */
@Injectable()
export class ConsoleAssets {
  private readonly assets = new Map<string, Asset>([
    [
      'htmx.min.js',
      { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('htmx.org/dist/htmx.min.js')) },
    ],
    [
      'console.js',
      { type: 'text/javascript; charset=utf-8', body: readFileSync(join(__dirname, 'assets', 'console.js')) },
    ],
    ['console.css', { type: 'text/css; charset=utf-8', body: readFileSync(join(__dirname, 'assets', 'console.css')) }],
  ]);

  get(name: string): Asset | undefined {
    return this.assets.get(name);
  }
}
