//! The `gatehouse` command: the server, the worker and the operator's admin tools in one
//! binary. Exit codes: 0 success, 1 failure, 2 bad configuration or usage.

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc returns freed huge blocks to the operating system. With glibc's allocator each
/// Argon2id hash (19 MiB) left fragments behind and a login benchmark grew the server from
/// 15 MiB to about 190 MiB resident; see bench/README.md for the figures with mimalloc.
#[global_allocator]
static ALLOCATOR: gatehouse_alloc::Allocator = gatehouse_alloc::Allocator;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match gatehouse_server::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("gatehouse: configuration error:\n{error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gatehouse: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, config)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("gatehouse: {error:#}");
            ExitCode::FAILURE
        }
    }
}
