// The test actions' one helper: runs a check and records its result, or what it threw, under
// `name`, so one failing check shows beside the others instead of hiding them.
async function check(results, name, fn) {
  try {
    results[name] = await fn();
  } catch (err) {
    results[name] = { threw: `${err?.name}: ${err?.message}` };
  }
}

module.exports = { check };
