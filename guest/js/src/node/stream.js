// Node's `stream` for actions: stream-browserify (readable-stream 3, Node 10's streams), with
// what its browser build leaves out and packages use: `Readable.from` over an iterable or an
// async iterable (its browser build only throws), as Node's does it. CommonJS, as the
// polyfill is: `require('stream')` is itself the `Stream` constructor.
const Stream = require('stream-browserify');

Stream.Readable.from = function from(iterable, options) {
  if (typeof iterable === 'string' || iterable instanceof Uint8Array) {
    return new Stream.Readable({
      objectMode: true,
      ...options,
      read() {
        this.push(iterable);
        this.push(null);
      },
    });
  }
  const iterator =
    typeof iterable?.[Symbol.asyncIterator] === 'function'
      ? iterable[Symbol.asyncIterator]()
      : typeof iterable?.[Symbol.iterator] === 'function'
        ? iterable[Symbol.iterator]()
        : null;
  if (iterator === null) {
    const err = new TypeError('The "iterable" argument must be an instance of Iterable');
    err.code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  let reading = false;
  return new Stream.Readable({
    objectMode: true,
    ...options,
    async read() {
      if (reading) return;
      reading = true;
      try {
        for (;;) {
          const { value, done } = await iterator.next();
          if (done) {
            this.push(null);
            break;
          }
          if (!this.push(await value)) break;
        }
      } catch (err) {
        this.destroy(err);
      } finally {
        reading = false;
      }
    },
  });
};

module.exports = Stream;
