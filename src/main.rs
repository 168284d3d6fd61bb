//! The `regie` command: see `regie --help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

// Imports allocate millions of small values; mimalloc does that markedly
// faster than the system allocator and returns memory to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = regie::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(regie::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One sentence for the operator; the chain of causes is already
            // folded into the message, and no backtrace is printed.
            eprintln!("error: {e:#}");
            ExitCode::from(e.exit_code())
        }
    }
}
