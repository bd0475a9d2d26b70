/**
 * A stop that says what it is doing: what is in flight, how long it waits, that a second signal stops at once, and
 * how it ended. Nothing acknowledged is lost either way: what is not delivered stays in (or goes back to) the queue.
 */
import type { Logger } from 'pino';
import type { RunningService } from '../service/index.js';

export function stopTalking(service: Pick<RunningService, 'stop' | 'force' | 'inFlight'>, logger: Logger, timeoutS: number): void {
  let started: number | undefined;
  const shutdown = (signal: NodeJS.Signals) => {
    const again = signal === 'SIGINT' ? 'Ctrl-C again' : `${signal} again`;
    if (started !== undefined) {
      logger.warn({ signal, inFlight: service.inFlight() }, `stopping now: ${service.inFlight()} message(s) in flight go back to the queue`);
      service.force();
      return;
    }
    started = Date.now();
    const inFlight = service.inFlight();
    logger.info(
      { signal, inFlight, timeoutS },
      `stopping: ${inFlight} message(s) in flight; waiting up to ${timeoutS} s for them to settle ` +
        `(${again} to stop now: what is not delivered stays in the queue)`,
    );
    const progress = setInterval(() => {
      const left = Math.max(0, Math.round(timeoutS - (Date.now() - started!) / 1000));
      logger.info({ inFlight: service.inFlight(), secondsLeft: left }, `still stopping: ${service.inFlight()} message(s) in flight, ${left} s left`);
    }, 5000);
    progress.unref();
    service.stop({ timeoutMs: timeoutS * 1000 }).then(
      ({ released }) => {
        clearInterval(progress);
        const took = ((Date.now() - started!) / 1000).toFixed(1);
        logger.info(
          { released, seconds: Number(took) },
          released
            ? `stopped after ${took} s: ${released} message(s) still in flight went back to the queue; the next start delivers them`
            : `stopped in ${took} s: every in-flight delivery settled`,
        );
        process.exit(0);
      },
      (err) => {
        logger.error({ err: String(err) }, 'stop failed; what was not delivered stays in the queue');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
