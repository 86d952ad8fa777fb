//! Hostile test action: writes 4 MiB to stdout and stderr. The host must keep at most the log
//! cap, mark the cut, and let the action finish.

fn on_execute(
    _: &cachet_guest::PostLoginEvent,
    _: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    let line = "x".repeat(1023);
    for i in 0..4096 {
        if i % 2 == 0 {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
    println!("done");
    Ok(())
}

cachet_guest::post_login!(on_execute);
