//! The `thetasecure` binary: CLI, configuration, telemetry and the process lifecycle.

mod cli;
mod commands;
mod config;
mod report;
mod serve;
mod telemetry;
mod users;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

/// glibc's malloc and free were a sixth of the instructions of a token introspection;
/// mimalloc's thread-local free lists take a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => return report::usage(&error, &cli::Cli::command(), &args),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
    {
        Ok(runtime) => runtime,
        Err(error) => return report::failure(&error, &args),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report::failure(&error, &args),
    }
}
