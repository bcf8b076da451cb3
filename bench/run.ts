// `npm run bench [-- --quick]`: every figure beside its baseline from the same run, as a table.
// The quick mode is a smoke run for CI: it proves the benchmarks work, not the numbers.
import { runConsoleBench } from './console.bench';
import { runInvestigationBench } from './investigation.bench';
import { runLatencyBench } from './latency.bench';
import { runLedgerBench } from './ledger.bench';
import { runLongWorkBench } from './long-work.bench';
import { runScaleBench } from './scale.bench';
import { runSdkBench } from './sdk.bench';
import { runServiceBench } from './service.bench';
import { runStreamingBench } from './streaming.bench';
import { BenchFigure, formatTable, meetsTarget } from './report';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const started = Date.now();
  // Each line with the seconds since the start, to line a phase up with the database's own log.
  const log = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  log(`bench: ${quick ? 'quick smoke run' : 'full run'}; node ${process.version}`);
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const figures: BenchFigure[] = [];
  // The cost curve runs alone (most of an hour): never part of the default run or CI.
  const scale = process.argv.includes('--scale');
  if (scale) figures.push(...(await runScaleBench(process.argv, log)));
  else {
    if (!only || only === 'ledger') figures.push(...runLedgerBench(quick, log));
    if (!only || only === 'service') figures.push(...(await runServiceBench(quick, log)));
    // Not in a full run: the service run times the same searches and export, after its other phases.
    if (only === 'investigation') figures.push(...(await runInvestigationBench(quick, log)));
    if (!only || only === 'latency') figures.push(...(await runLatencyBench(quick, log)));
    if (!only || only === 'console') figures.push(...(await runConsoleBench(quick, log)));
    if (!only || only === 'long-work') figures.push(...(await runLongWorkBench(quick, log)));
    if (!only || only === 'sdk') figures.push(...(await runSdkBench(quick, log)));
    if (!only || only === 'streaming') figures.push(...(await runStreamingBench(quick, log)));
  }
  process.stdout.write(`${formatTable(figures)}\n`);
  if (quick)
    log(
      'bench: quick mode proves the benchmarks run; its sizes are too small and short (cold JIT) for the targets, so its verdicts are indicative only',
    );
  log(`bench: finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const missed = figures.filter((f) => meetsTarget(f) === false);
  if (missed.length > 0 && !quick) {
    log(`bench: ${missed.length} target(s) missed`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
