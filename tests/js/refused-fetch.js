// Test action: meets every rule by which the host refuses an outbound request (the allow-list,
// the address policy, the body size limit, the request budget) with every kind of fetch body,
// and reports what each `fetch` got as the claim `refusals` ({rule: {body: "Name: message"}}),
// then sets `carried_on`. Each refusal must reject the fetch with a TypeError that the action
// catches, never abort the engine.
//
// `request.query.mode = "uncaught"` makes one refused POST without a catch instead.
// Secret `private`: a HOST:PORT on the allow-list (not marked private) that resolves to loopback.
const encoder = new TextEncoder();

const BODIES = {
  none: () => undefined,
  string: () => 'grant_type=client_credentials',
  params: () => new URLSearchParams({ grant_type: 'client_credentials' }),
  form: () => {
    const form = new FormData();
    form.append('grant_type', 'client_credentials');
    return form;
  },
  blob: () => new Blob(['grant_type=client_credentials']),
  buffer: () => encoder.encode('grant_type=client_credentials').buffer,
  stream: () =>
    new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode('grant_type=client_credentials'));
        controller.close();
      },
    }),
};

// Bodies past the host's 1 MiB request limit.
const BIG = 'x'.repeat(1024 * 1024 + 1);
const BIG_BODIES = {
  string: () => BIG,
  params: () => new URLSearchParams({ big: BIG }),
  form: () => {
    const form = new FormData();
    form.append('big', BIG);
    return form;
  },
  blob: () => new Blob([BIG]),
  buffer: () => encoder.encode(BIG).buffer,
  stream: () =>
    new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode(BIG));
        controller.close();
      },
    }),
};

let sent = 0;

async function attempt(url, makeBody) {
  sent += 1;
  const body = makeBody();
  const init = body === undefined ? {} : { method: 'POST', body, duplex: 'half' };
  try {
    const response = await fetch(url, init);
    return `no error: HTTP ${response.status}`;
  } catch (e) {
    return `${e?.name}: ${e?.message}`;
  }
}

async function rule(url, bodies) {
  const got = {};
  for (const [name, makeBody] of Object.entries(bodies)) {
    got[name] = await attempt(url, makeBody);
  }
  return got;
}

exports.onExecutePostLogin = async (event, api) => {
  const denied = 'https://denied.example/token';
  const loopback = `http://${event.secrets.private ?? 'localhost:9'}/token`;
  if (event.request?.query?.mode === 'uncaught') {
    await fetch(denied, { method: 'POST', body: new URLSearchParams({ a: '1' }) });
    api.idToken.setCustomClaim('carried_on', true);
    return;
  }
  const refusals = {};
  refusals['allow-list'] = await rule(denied, BODIES);
  refusals.address = await rule(loopback, BODIES);
  refusals.size = await rule(loopback, BIG_BODIES);
  // Spend the rest of the 50-request budget, then meet it.
  while (sent < 50) await attempt(denied, BODIES.none);
  refusals.budget = await rule(denied, BODIES);
  api.idToken.setCustomClaim('refusals', refusals);
  api.idToken.setCustomClaim('carried_on', true);
};
