// Test action: the hostile cases in JavaScript, chosen by `request.query.mode`. Each must end
// in its typed failure while the host keeps serving.
exports.onExecutePostLogin = async (event, api) => {
  const mode = event.request?.query?.mode;
  const user = event.user.user_id;
  switch (mode) {
    case 'loop':
      for (;;) {}
    case 'memory-bomb': {
      const kept = [];
      for (;;) kept.push(new Array(1 << 20).fill(kept.length));
    }
    case 'throw':
      throw new Error(`deliberate failure for user ${user}`);
    case 'throw-string':
      throw `a plain string for ${user}`;
    case 'reject':
      // Rejected later, from a timer: the handler's promise rejects with it.
      await new Promise((_, reject) => setTimeout(() => reject(new RangeError(`rejected for ${user}`)), 1));
      break;
    case 'log-flood': {
      const line = 'x'.repeat(1023);
      for (let i = 0; i < 1024; i++) console.log(line);
      console.log('done');
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
};
