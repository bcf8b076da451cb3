import { parentPort } from 'node:worker_threads';
import { formatDelivery } from './sink-formats';
import { FormatReply, FormatRequest, formatFailure } from './sink-format-protocol';

// The delivery's formatting thread, started by SinkFormatter (sink-formatter.ts): it formats each
// batch it is sent, one after another, and answers with the bytes. It loads sink-formats.ts and
// what that needs (OCSF mapping, syslog framing, HMAC), not Nest.
const port = parentPort;
if (port)
  port.on('message', ({ id, batch }: FormatRequest) => {
    let reply: FormatReply;
    try {
      reply = { id, delivery: formatDelivery(batch) };
    } catch (error) {
      reply = { id, failure: formatFailure(error) };
    }
    port.postMessage(reply);
  });
