//! The `cachet` command line. Its subcommands arrive with the host runtime.

fn main() {
    eprintln!("cachet: no subcommands yet; the runtime lands with the host issue");
    std::process::exit(2);
}
