//! The `vouch` binary: parse arguments, run the command, map to exit codes.

use std::process::ExitCode;

// vouch allocates many small strings and JSON values per probe; mimalloc
// measured ~15% faster than glibc's allocator on the 10,000-probe benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use vouch::cli::{self, Cli, Exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("VOUCH_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Broken as u8);
        }
    };
    match runtime.block_on(cli::execute(cli)) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::from(e));
            ExitCode::from(Exit::Broken as u8)
        }
    }
}
