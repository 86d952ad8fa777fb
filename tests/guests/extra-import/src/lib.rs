//! Test action: a well-formed post-login action that also imports `test:missing/thing`, an
//! interface no Cachet world provides (as an action built against another platform's WIT, or
//! one reaching for a capability the host does not offer, would). Loading it must fail with
//! `LoadError::UnsatisfiedImports` naming what is missing, not at the first execution.

/// Bindings of the interface no world provides (generated; undocumented by nature).
#[allow(missing_docs)]
mod missing {
    wit_bindgen::generate!({
    inline: "
        package test:missing;
        interface thing {
            poke: func() -> u32;
        }
        world extra {
            import thing;
        }
    ",
    world: "extra",
    });
}

fn on_execute(
    _: &cachet_guest::PostLoginEvent,
    api: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    let poked = missing::test::missing::thing::poke();
    api.id_token().set_custom_claim("poked", &poked)?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
