// Placeholder: the poll engine lands here (native/engine/poll_loop.cc).
import type { EngineContext } from './types.js';
export async function runPoll(_ctx: EngineContext): Promise<void> {
  throw new Error('The poll engine is not built yet');
}
