//! Host bindings generated from `wit/action.wit`: the host-side traits of every interface an
//! action may import, and their `add_to_linker` functions. Generated from the exports-free
//! `sdk-imports` world, which imports all of them; every trigger world imports the same four. The host implementations live in `interfaces/`, one file per
//! interface; this module holds only generated code.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "sdk-imports",
    imports: {
        // The store may be remote (Redis), so cache calls are async on the host; to the
        // action they block like any call.
        "cachet:action/cache": async,
        // verify may fetch a JWKS.
        "cachet:action/jwt": async,
    },
});

pub(crate) use cachet::action::{api, cache, crypto, jwt};
